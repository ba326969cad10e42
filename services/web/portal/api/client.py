"""``Api(request)``: the four services' clients, bound to one browser request."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.api import http, session
from portal.api.errors import ApiError, ServiceUnavailableError, SignInRequiredError
from portal.api.session import TokenPair
from portal.api.types import (
    Category,
    Comment,
    HistoryEntry,
    Notification,
    Page,
    Person,
    Profile,
    SlaTarget,
    Ticket,
)

logger = logging.getLogger(__name__)

Params = Mapping[str, str | Sequence[str] | None]


def _clean(params: Params | None) -> list[tuple[str, str | int | float | bool | None]]:
    """Query parameters without blanks (the APIs read a blank as "not given" or refuse it)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in (params or {}).items():
        values = [value] if isinstance(value, str) or value is None else list(value)
        pairs += [(name, str(v)) for v in values if v not in (None, "")]
    return pairs


class Connection:
    """Sends calls for one browser request: headers, the token, one retry after a 401."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    # --- tokens -----------------------------------------------------------------------

    def access_token(self) -> str:
        pair = session.stored_pair(self.request)
        if pair is None:
            raise SignInRequiredError
        if session.expires_soon(pair.access):
            pair = self.refresh(pair)
        return pair.access

    def refresh(self, used: TokenPair) -> TokenPair:
        fresh = session.refreshed_pair(self.request, used, self._refresh_call)
        if fresh is None:
            raise SignInRequiredError(expired=True)
        return fresh

    def _refresh_call(self, refresh: str) -> TokenPair | None:
        try:
            response = self.send(
                "accounts", "POST", "auth/token/refresh/", json={"refresh": refresh}, auth=False
            )
        except ServiceUnavailableError:
            raise
        except ApiError as exc:
            if exc.status in (400, 401, 403):
                return None
            raise
        return TokenPair.from_json(response.json())

    # --- calls ------------------------------------------------------------------------

    def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        auth: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """The service's answer to ``method path`` (relative to its prefix), or an error."""
        with self._stream(
            service, method, path, params=params, json=json, auth=auth, timeout=timeout
        ) as response:
            response.read()
            return response

    @contextmanager
    def stream(
        self, service: str, path: str, *, params: Params | None = None, timeout: float
    ) -> Iterator[httpx.Response]:
        """A GET whose body is read while the browser downloads it (report files)."""
        with self._stream(
            service, "GET", path, params=params, json=None, auth=True, timeout=timeout
        ) as response:
            yield response

    @contextmanager
    def _stream(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        auth: bool,
        timeout: float | None,
    ) -> Iterator[httpx.Response]:
        url = http.PREFIXES[service] + path
        headers = http.base_headers(self.request)
        attempts = 2 if auth else 1
        for attempt in range(attempts):
            if auth:
                headers["Authorization"] = f"Bearer {self.access_token()}"
            try:
                request = http.client(service).build_request(
                    method,
                    url,
                    params=_clean(params),
                    json=json,
                    headers=headers,
                    timeout=http.default_timeout() if timeout is None else timeout,
                )
                response = http.client(service).send(request, stream=True)
            except httpx.HTTPError as exc:
                logger.warning(
                    "api call failed",
                    extra={"service": service, "path": url, "error": type(exc).__name__},
                )
                raise ServiceUnavailableError(service, 0, type(exc).__name__) from exc
            try:
                if response.status_code == 401 and auth:
                    response.read()
                    if attempt == 0:
                        pair = session.stored_pair(self.request)
                        if pair is None:
                            raise SignInRequiredError
                        self.refresh(pair)
                        continue
                    raise SignInRequiredError(expired=True)
                if response.status_code >= 500:
                    response.read()
                    logger.warning(
                        "api call failed",
                        extra={"service": service, "path": url, "status": response.status_code},
                    )
                    raise ServiceUnavailableError(service, response.status_code)
                if response.status_code >= 400:
                    response.read()
                    raise self._error(service, response)
                yield response
                return
            finally:
                response.close()

    @staticmethod
    def _error(service: str, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        retry_after = _retry_after(response) if response.status_code == 429 else None
        if response.status_code == 429:
            default = _too_many(retry_after)
        elif response.status_code == 404:
            default = _("Not found.")
        else:
            default = _("The request was not accepted.")
        error = ApiError.from_body(service, response.status_code, body, default)
        if response.status_code == 429:
            # The gateway's and the APIs' own words are English-only for rate limits.
            error.message = default
            error.retry_after = retry_after
        return error


def _retry_after(response: httpx.Response) -> int | None:
    """``Retry-After`` in seconds (the APIs send seconds, never a date), if sensible."""
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None
    seconds = int(value)
    return seconds if 0 < seconds <= 24 * 3600 else None


def _too_many(wait: int | None) -> str:
    if wait is None:
        return _("Too many attempts. Please wait a moment and try again.")
    if wait <= 90:
        return ngettext(
            "Too many attempts. Please wait %(count)d second and try again.",
            "Too many attempts. Please wait %(count)d seconds and try again.",
            wait,
        ) % {"count": wait}
    minutes = -(-wait // 60)
    return ngettext(
        "Too many attempts. Please wait %(count)d minute and try again.",
        "Too many attempts. Please wait %(count)d minutes and try again.",
        minutes,
    ) % {"count": minutes}


class Service:
    name = ""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, path: str, params: Params | None = None, *, auth: bool = True) -> Any:
        return self.connection.send(self.name, "GET", path, params=params, auth=auth).json()

    def post(self, path: str, data: Any = None, *, auth: bool = True) -> Any:
        response = self.connection.send(self.name, "POST", path, json=data, auth=auth)
        return response.json() if response.content else None

    def patch(self, path: str, data: Any) -> Any:
        return self.connection.send(self.name, "PATCH", path, json=data).json()

    def put(self, path: str, data: Any) -> Any:
        return self.connection.send(self.name, "PUT", path, json=data).json()

    def delete(self, path: str) -> None:
        self.connection.send(self.name, "DELETE", path)


class Accounts(Service):
    name = "accounts"

    def login(self, username: str, password: str) -> TokenPair:
        data = self.post("auth/token/", {"username": username, "password": password}, auth=False)
        return TokenPair.from_json(data)

    def register(self, data: dict[str, Any]) -> Profile:
        return Profile.parse(self.post("auth/register/", data, auth=False))

    def logout(self, refresh: str) -> None:
        self.post("auth/logout/", {"refresh": refresh}, auth=False)

    def social_exchange(self, code: str, nonce: str) -> TokenPair:
        """The pair for the one-time ``code`` of a social login this browser started
        (``nonce`` is the one web handed to accounts when it started)."""
        data = self.post("auth/social/exchange/", {"code": code, "nonce": nonce}, auth=False)
        return TokenPair.from_json(data)

    def social_providers(self) -> list[str]:
        """The ids of the social logins configured at accounts (``google``, ``facebook``)."""
        data = self.get("auth/social/providers/", auth=False)
        if not isinstance(data, list):
            return []
        return [str(p.get("id")) for p in data if isinstance(p, dict) and p.get("id")]

    def social_link(self, provider: str) -> str:
        """Where to send the browser to link ``provider`` to the signed-in account."""
        data = self.post("me/social/link/", {"provider": provider})
        return str(data.get("url", "")) if isinstance(data, dict) else ""

    def social_link_confirm(self, code: str, nonce: str) -> str:
        """Finish a link the provider answered (``?link_code=`` on the profile) as the
        signed-in user, with the nonce this browser started it with; the provider's id.
        accounts refuses (``ApiError.code`` says why) unless this user started it here."""
        data = self.post("me/social/link/confirm/", {"code": code, "nonce": nonce})
        return str(data.get("provider", "")) if isinstance(data, dict) else ""

    def password_reset(self, email: str) -> str:
        data = self.post("auth/password/reset/", {"email": email}, auth=False)
        return str(data.get("message", "")) if isinstance(data, dict) else ""

    def password_reset_confirm(self, uid: str, token: str, new_password: str) -> None:
        self.post(
            "auth/password/reset/confirm/",
            {"uid": uid, "token": token, "new_password": new_password},
            auth=False,
        )

    def me(self) -> Profile:
        return Profile.parse(self.get("me/"))

    def update_me(self, changes: dict[str, Any]) -> Profile:
        return Profile.parse(self.patch("me/", changes))

    def confirm_email(self, token: str) -> Profile:
        return Profile.parse(self.post("me/email/confirm/", {"token": token}))

    def send_email_confirmation(self) -> None:
        self.post("me/email/send-confirmation/")

    def send_phone_code(self) -> None:
        self.post("me/phone/send-code/")

    def verify_phone(self, code: str) -> Profile:
        return Profile.parse(self.post("me/phone/verify/", {"code": code}))

    def change_password(self, current_password: str, new_password: str) -> TokenPair:
        data = self.post(
            "me/password/", {"current_password": current_password, "new_password": new_password}
        )
        return TokenPair.from_json(data)

    def users(self, params: Params | None = None) -> Page[Profile]:
        return Page.parse(self.get("users/", params), Profile.parse)

    def create_user(self, data: dict[str, Any]) -> Profile:
        return Profile.parse(self.post("users/", data))

    def update_user(self, user_id: str, changes: dict[str, Any]) -> Profile:
        return Profile.parse(self.patch(f"users/{user_id}/", changes))


class Tickets(Service):
    name = "tickets"

    def search(self, params: Params | None = None) -> Page[Ticket]:
        """A page of the tickets the user may see, filtered (``GET /api/tickets/``)."""
        return Page.parse(self.get("", params), Ticket.parse)

    def create(self, data: dict[str, Any]) -> Ticket:
        return Ticket.parse(self.post("", data))

    def get_ticket(self, ticket_id: str) -> Ticket:
        return Ticket.parse(self.get(f"{ticket_id}/"))

    def change_status(self, ticket_id: str, status: str, version: int | None = None) -> Ticket:
        data: dict[str, Any] = {"status": status}
        if version is not None:
            data["version"] = version
        return Ticket.parse(self.post(f"{ticket_id}/status/", data))

    def assign(self, ticket_id: str, assignee_id: str | None, version: int | None = None) -> Ticket:
        data: dict[str, Any] = {"assignee_id": assignee_id}
        if version is not None:
            data["version"] = version
        return Ticket.parse(self.post(f"{ticket_id}/assign/", data))

    def comments(self, ticket_id: str, *, limit: int = 500) -> list[Comment]:
        """The whole conversation, oldest first (up to ``limit`` messages)."""
        return self._all(f"{ticket_id}/comments/", Comment.parse, limit)

    def add_comment(self, ticket_id: str, body: str, *, internal: bool) -> Comment:
        return Comment.parse(
            self.post(f"{ticket_id}/comments/", {"body": body, "internal": internal})
        )

    def history(self, ticket_id: str, *, limit: int = 200) -> list[HistoryEntry]:
        return self._all(f"{ticket_id}/history/", HistoryEntry.parse, limit)

    def categories(self) -> list[Category]:
        return Page.parse(self.get("categories/"), Category.parse).results

    def create_category(self, data: dict[str, Any]) -> Category:
        return Category.parse(self.post("categories/", data))

    def update_category(self, slug: str, changes: dict[str, Any]) -> Category:
        return Category.parse(self.patch(f"categories/{slug}/", changes))

    def delete_category(self, slug: str) -> None:
        self.delete(f"categories/{slug}/")

    def sla_targets(self) -> list[SlaTarget]:
        return Page.parse(self.get("sla-targets/"), SlaTarget.parse).results

    def set_sla_target(self, priority: str, first_response: int, resolution: int) -> SlaTarget:
        data = {"first_response_hours": first_response, "resolution_hours": resolution}
        return SlaTarget.parse(self.put(f"sla-targets/{priority}/", data))

    def assignees(self) -> list[Person]:
        return Page.parse(self.get("assignees/"), Person.parse).results

    def _all(self, path: str, parse: Any, limit: int) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        while len(items) < limit:
            page = Page.parse(self.get(path, {"page_size": "100", "cursor": cursor}), parse)
            items += page.results
            cursor = page.next_cursor
            if not cursor:
                break
        return items[:limit]


class Notifier(Service):
    name = "notifier"

    def feed(self, params: Params | None = None) -> Page[Notification]:
        return Page.parse(self.get("", params), Notification.parse)

    def unread_count(self) -> int:
        data = self.get("unread-count/")
        return int(data.get("count", 0)) if isinstance(data, dict) else 0

    def mark_read(self, notification_id: str) -> None:
        self.post(f"{notification_id}/read/")

    def mark_all_read(self) -> None:
        self.post("read-all/")


class Reports(Service):
    name = "reports"

    def summary(self, params: Params) -> dict[str, Any]:
        data: dict[str, Any] = self.get("summary/", params)
        return data


class Api:
    """Everything a view may ask of the four APIs, on behalf of ``request``'s user."""

    def __init__(self, request: HttpRequest) -> None:
        self.connection = Connection(request)
        self.accounts = Accounts(self.connection)
        self.tickets = Tickets(self.connection)
        self.notifier = Notifier(self.connection)
        self.reports = Reports(self.connection)
