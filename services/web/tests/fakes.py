"""Fakes of the four APIs at the HTTP boundary (``httpx.MockTransport``) and helpers to
sign a test browser in. Nothing else is faked: views, forms, sessions, templates are real."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser
from django.test import Client, RequestFactory
from portal.api import http
from portal.api.session import TOKENS_KEY, USER_KEY, sign_in
from portal.api.types import TokenPair

HOSTS = {
    "accounts": "http://accounts.test",
    "tickets": "http://tickets.test",
    "notifier": "http://notifier.test",
    "reports": "http://reports.test",
}
SERVICE_OF_HOST = {url.removeprefix("http://"): name for name, url in HOSTS.items()}

Handler = Callable[[httpx.Request], httpx.Response]


def token(
    user_id: Any = 7, role: str = "client", username: str = "ana", lifetime: int = 900
) -> str:
    now = int(time.time())
    claims = {
        "user_id": user_id,
        "role": role,
        "username": username,
        "iss": "servidesk-accounts",
        "aud": "servidesk",
        "iat": now,
        "exp": now + lifetime,
        "jti": f"jti-{now}-{user_id}-{lifetime}",
        "token_type": "access",
    }
    return jwt.encode(claims, "web-never-verifies-this-signature-key", algorithm="HS256")


def ticket_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": 41,
        "number": "SD-1041",
        "title": "La impresora no imprime",
        "description": "Sale una hoja en blanco.",
        "status": "pending",
        "priority": "medium",
        "category": "hardware",
        "client_id": 7,
        "assignee_id": None,
        "created_at": "2026-03-02T09:15:00Z",
        "updated_at": "2026-03-02T09:15:00Z",
        "first_response_at": None,
        "resolved_at": None,
        "first_response_due": "2099-03-02T17:15:00Z",
        "resolution_due": "2099-03-05T09:15:00Z",
        "first_response_breached": False,
        "resolution_breached": False,
        "client_name": "Ana Cliente",
        "assignee_name": None,
    }
    return data | overrides


def profile_json(**overrides: Any) -> dict[str, Any]:
    """``me/`` (or a ``users/`` entry): Ana, a client, as accounts answers."""
    data = {
        "id": 7,
        "username": "ana",
        "email": "ana@example.com",
        "full_name": "Ana Cliente",
        "phone": "",
        "role": "client",
        "language": "es",
        "notify_email": True,
        "notify_sms": False,
    }
    return data | overrides


def page(results: list[Any], next_url: str | None = None) -> dict[str, Any]:
    return {"results": results, "next": next_url, "previous": None}


def attachment_json(**overrides: Any) -> dict[str, Any]:
    """An attachment of ticket 41 (of the ticket itself unless ``comment_id`` is given)."""
    data = {
        "id": 5,
        "filename": "informe.pdf",
        "size": 52_430,
        "content_type": "application/pdf",
        "comment_id": None,
        "created_at": "2026-03-02T09:16:00Z",
        "uploaded_by": 7,
    }
    return data | overrides


def serve_ticket(apis: FakeApis, **overrides: Any) -> None:
    """Ticket 41's page: the ticket, an empty conversation, history and files, no
    assignees."""
    apis.on("tickets", "GET", "41/", body=ticket_json(**overrides))
    apis.on("tickets", "GET", "41/comments/", body=page([]))
    apis.on("tickets", "GET", "41/history/", body=page([]))
    apis.on("tickets", "GET", "41/attachments/", body=[])
    apis.on("tickets", "GET", "assignees/", body=[])


def file_answer(content: bytes, content_type: str, disposition: str, status: int = 200) -> Handler:
    """A download, as tickets answers one: the bytes and their headers."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": content_type, "Content-Disposition": disposition}
        return httpx.Response(status, content=content, headers=headers)

    return answer


def error(message: str, fields: dict[str, list[str]] | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"message": message, "extra": dict(extra)}
    if fields:
        body["extra"]["fields"] = fields
    return body


@dataclass(frozen=True)
class SentFile:
    """A file part of a multipart call."""

    field: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class Call:
    service: str
    method: str
    path: str
    params: dict[str, list[str]]
    headers: httpx.Headers
    body: Any
    #: The file parts of a multipart call (its text fields are in ``body``).
    files: list[SentFile] = field(default_factory=list)


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], list[SentFile]]:
    """A multipart body read as the API's Django would read it: fields and files."""
    meta = {
        "CONTENT_TYPE": request.headers["Content-Type"],
        "CONTENT_LENGTH": str(len(request.content)),
    }
    handlers = [MemoryFileUploadHandler(), TemporaryFileUploadHandler()]
    fields, files = MultiPartParser(meta, io.BytesIO(request.content), handlers).parse()
    sent = [
        SentFile(name, upload.name or "", upload.content_type or "", upload.read())
        for name, uploads in files.lists()
        for upload in uploads
    ]
    return dict(fields.items()), sent


@dataclass
class FakeApis:
    """Answers by ``(service, method, path)``; unknown routes are 404 in the APIs' shape.

    ``down`` holds services that do not answer (a connection error, as when the process
    is stopped)."""

    routes: dict[tuple[str, str, str], Handler | tuple[int, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    down: set[str] = field(default_factory=set)

    def on(self, service: str, method: str, path: str, status: int = 200, body: Any = None) -> None:
        self.routes[(service, method, path)] = (status, body)

    def handle(self, service: str, method: str, path: str, handler: Handler) -> None:
        self.routes[(service, method, path)] = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        service = SERVICE_OF_HOST[request.url.host]
        path = request.url.path.removeprefix(http.PREFIXES[service])
        files: list[SentFile] = []
        if request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            body, files = parse_multipart(request)
        else:
            body = json.loads(request.content) if request.content else None
        params: dict[str, list[str]] = {}
        for name, value in request.url.params.multi_items():
            params.setdefault(name, []).append(value)
        self.calls.append(Call(service, request.method, path, params, request.headers, body, files))
        if service in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        route = self.routes.get((service, request.method, path))
        if route is None:
            return httpx.Response(404, json=error("Not found."))
        if callable(route):
            return route(request)
        status, payload = route
        if isinstance(payload, bytes):
            return httpx.Response(status, content=payload)
        if payload is None:
            return httpx.Response(status)
        return httpx.Response(status, json=payload)

    def called(self, service: str, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.service, c.method, c.path) == (service, method, path)]


def sign_in_client(
    client: Client,
    *,
    role: str = "client",
    user_id: Any = 7,
    username: str = "ana",
    access: str | None = None,
    refresh: str = "refresh-1",
) -> None:
    session = client.session
    session[TOKENS_KEY] = {
        "access": access or token(user_id=user_id, role=role, username=username),
        "refresh": refresh,
    }
    session[USER_KEY] = {
        "id": str(user_id),
        "username": username,
        "role": role,
        "name": username.title(),
        "language": "es",
    }
    session.save()


def signed_in_request(pair: TokenPair | None = None) -> HttpRequest:
    """A request whose session holds ``pair`` (a client's, by default), for calling
    ``portal.api`` without a view."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    sign_in(request, pair or TokenPair(token(), "refresh-1"))
    request.session.save()
    return request


def team_json(**overrides: Any) -> dict[str, Any]:
    """A team as ``GET /api/tickets/teams/`` answers it."""
    data = {
        "id": 3,
        "name": "Soporte de red",
        "member_ids": [3, 4],
        "lead_id": 3,
        "assignment": "round_robin",
        "category_slugs": ["red"],
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
    }
    return data | overrides


def macro_json(**overrides: Any) -> dict[str, Any]:
    """A canned response as ``GET /api/tickets/macros/`` answers it (technician 3's own)."""
    data = {
        "id": 5,
        "title": "Pedir el modelo",
        "body": "Hola {cliente}, ¿qué modelo de impresora es? Un saludo, {tecnico}.",
        "shared": False,
        "actions": {"status": "in_progress", "add_tags": ["impresoras"]},
        "owner_id": 3,
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
    }
    return data | overrides


def view_json(**overrides: Any) -> dict[str, Any]:
    """A saved view as ``GET /api/tickets/views/`` answers it."""
    data = {
        "id": 8,
        "name": "Red urgente",
        "filters": {"priority": "urgent", "team_id": "3", "tag": ["vpn", "oficina"]},
        "shared": False,
        "owner_id": 3,
        "count": 12,
        "count_capped": False,
        "created_at": "2026-03-01T09:00:00Z",
    }
    return data | overrides


PEOPLE = [
    {
        "id": 3,
        "username": "tecnico1",
        "name": "Teo Técnico",
        "role": "technician",
        "available": True,
    },
    {
        "id": 4,
        "username": "tecnica2",
        "name": "Tina Técnica",
        "role": "technician",
        "available": False,
    },
    {"id": 1, "username": "admin", "name": "Ada Admin", "role": "admin", "available": True},
]
