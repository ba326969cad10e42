"""The calls the fault tests make, straight to each service's gunicorn (the gateway's rate
limits would throttle a burst of a thousand changes; the gateway has tests of its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from faults_tools import eventually
from proofs import code_sms, sms_code

from servidesk_testing.fakes import TwilioFake

DEMO_ADMIN = ("admin", "Mesa-de-ayuda-A1")
PASSWORD = "Una-clave-larga-42"
Headers = dict[str, str]


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    email: str
    headers: Headers


class Desk:
    """Users, tickets and moves through the APIs, as the web UI would make them."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        # Long reads: a test may hold a lock that writes wait on for up to two minutes.
        self.http = httpx.Client(timeout=httpx.Timeout(30, read=180))
        self.admin = self.login(*DEMO_ADMIN)

    def close(self) -> None:
        self.http.close()

    def url(self, service: str, path: str) -> str:
        prefix = "/api/notifications/" if service == "notifier" else f"/api/{service}/"
        return f"{self.urls[service]}{prefix}{path}"

    def login(self, username: str, password: str) -> Headers:
        response = self.http.post(
            self.url("accounts", "auth/token/"), json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access']}"}

    def new_person(
        self,
        role: str,
        *,
        phone: str = "",
        notify_sms: bool = False,
        twilio: TwilioFake | None = None,
    ) -> Person:
        """Someone the admin creates (their address counts as confirmed); a ``phone`` is
        verified as its owner would, with the code texted to it (read from ``twilio``),
        since no other SMS goes to an unverified number."""
        username = f"f{role[:3]}{uuid.uuid4().hex[:10]}"
        email = f"{username}@example.com"
        body: dict[str, Any] = {
            "username": username,
            "email": email,
            "password": PASSWORD,
            "full_name": f"Prueba {role}",
            "role": role,
            "notify_sms": notify_sms,
        }
        if phone:
            body["phone"] = phone
        made = self.http.post(self.url("accounts", "users/"), json=body, headers=self.admin)
        assert made.status_code == 201, made.text
        person = Person(str(made.json()["id"]), username, email, self.login(username, PASSWORD))
        if phone:
            assert twilio is not None, "a phone is verified with the code texted to it"
            code = sms_code(code_sms(twilio, phone, timeout=180))
            verified = self.http.post(
                self.url("accounts", "me/phone/verify/"),
                json={"code": code},
                headers=person.headers,
            )
            assert verified.status_code == 200, verified.text
        return person

    def open_ticket(self, technician: Person, client: Person, title: str) -> dict[str, Any]:
        """Opened by staff for the client, once tickets' directory knows the client."""

        def opened() -> dict[str, Any] | None:
            response = self.http.post(
                self.url("tickets", ""),
                json={"title": title, "description": "Prueba de fallos.", "client_id": client.id},
                headers=technician.headers,
            )
            if response.status_code == 201:
                return dict(response.json())
            assert response.status_code == 400, response.text  # the client is not known yet
            return None

        return eventually(opened, timeout=120, what=f"a ticket for {client.username}")

    def move(self, actor: Person, ticket_id: str, status: str) -> httpx.Response:
        return self.http.post(
            self.url("tickets", f"{ticket_id}/status/"),
            json={"status": status},
            headers=actor.headers,
        )

    def comment(self, actor: Person, ticket_id: str, body: str) -> httpx.Response:
        return self.http.post(
            self.url("tickets", f"{ticket_id}/comments/"),
            json={"body": body, "internal": False},
            headers=actor.headers,
        )
