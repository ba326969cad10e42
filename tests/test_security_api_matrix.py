"""The authorization matrix of every API operation of every service, on the running stack.

One table (NetBox style): each row is an operation on an object, each column a caller:
anonymous, a client, a technician, an admin, with real tokens that accounts issued. The
objects are the client's own and another client's (tickets, notifications, accounts),
made through the APIs and the event bus, so ownership is what the services really know.
Anything a caller may not see is 404 (ids cannot be probed), an operation a role may not
use is 403, no token is 401; every refusal is in the error shape. A last test reads each
service's served schema and fails if an operation has no row, so a new endpoint cannot
ship outside the matrix.

Requests go to each service directly (``Stack.service_url``), not through nginx, so the
gateway's rate limits do not interfere; the stack's data is touched only through fresh
users, tickets and categories made here (the demo admin and technician only sign in).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest
from stack import Stack
from stack import eventually as _eventually

pytestmark = pytest.mark.stack

CALLERS = ("anonymous", "client", "technician", "admin")
DEMO_ADMIN = ("admin", "Mesa-de-ayuda-A1")
DEMO_TECHNICIAN = ("tecnico1", "Mesa-de-ayuda-T1")
DEMO_OTHER_TECHNICIAN = "tecnico2"
PASSWORD = "Matriz-de-permisos-42"
SERVICES = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
}


#: Events reach tickets' directory and notifier in seconds; generous on a shared machine.
eventually = partial(_eventually, timeout=90)
#: A business calendar's week (issue 19): weekdays 9:00-14:00 and 15:00-18:00.
WEEK = {
    **{day: [["09:00", "14:00"], ["15:00", "18:00"]] for day in ("mon", "tue", "wed", "thu")},
    **{"fri": [["09:00", "15:00"]], "sat": [], "sun": []},
}
#: Rating links (issue 19) nobody minted: rubbish, and one shaped like Django's signed
#: values (payload:signature) with a signature of its own.
FORGED_TOKENS = ("not-a-rating-link", "eyJ0IjoxLCJjIjoxLCJ4Ijo0MTAyNDQ0ODAwfQ:forgedsignature0123")
#: A file to attach, as httpx's multipart ``files``.
ATTACHMENT = {"file": ("nota.txt", b"La impresora hace ruido.\n", "text/plain")}


@dataclass
class World:
    """The callers' tokens and the objects the rows name, made once for the module."""

    clients: dict[str, httpx.Client]
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)

    def call(
        self,
        service: str,
        caller: str,
        method: str,
        path: str,
        body: Any,
        *,
        form: bool = False,
        files: bool = False,
    ) -> httpx.Response:
        headers = {"Accept-Language": "en"}
        if caller in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[caller]}"
        if form:
            return self.clients[service].request(method, path, data=body, headers=headers)
        if files:
            return self.clients[service].request(method, path, files=body, headers=headers)
        return self.clients[service].request(method, path, json=body, headers=headers)

    def ok(self, service: str, caller: str, method: str, path: str, body: Any = None) -> Any:
        response = self.call(service, caller, method, path, body)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def new_ticket(self, owner: str = "client") -> str:
        body = {"title": "Matrix check", "description": "Made by the permission matrix."}
        return str(self.ok("tickets", owner, "POST", "/api/tickets/", body)["id"])

    def new_attachment(self, owner: str, ticket_id: str) -> str:
        path = f"/api/tickets/{ticket_id}/attachments/"
        response = self.call("tickets", owner, "POST", path, ATTACHMENT, files=True)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def new_team(self) -> str:
        body = {"name": f"Matrix {uuid.uuid4().hex[:8]}", "assignment": "manual"}
        return str(self.ok("tickets", "admin", "POST", "/api/tickets/teams/", body)["id"])

    def new_shared_macro(self) -> str:
        body = {"title": "Matrix", "body": "Hola {cliente}, revisamos {numero}.", "shared": True}
        return str(self.ok("tickets", "admin", "POST", "/api/tickets/macros/", body)["id"])

    def new_shared_view(self) -> str:
        body = {"name": "Matrix", "filters": {"status": "pending"}, "shared": True}
        return str(self.ok("tickets", "admin", "POST", "/api/tickets/views/", body)["id"])

    def new_calendar(self) -> str:
        body = {"name": f"Matrix {uuid.uuid4().hex[:8]}", "time_zone": "UTC", "week": WEEK}
        return str(self.ok("tickets", "admin", "POST", "/api/tickets/calendars/", body)["id"])

    def new_api_key(self) -> str:
        body = {"name": f"Matrix {uuid.uuid4().hex[:8]}", "role": "technician", "read_only": True}
        return str(self.ok("accounts", "admin", "POST", "/api/accounts/api-keys/", body)["id"])

    def new_webhook(self) -> str:
        body = {"url": "https://hooks.example.com/servidesk", "events": ["*"], "active": False}
        return str(self.ok("notifier", "admin", "POST", "/api/notifications/webhooks/", body)["id"])

    def new_category(self) -> str:
        slug = f"matrix-{uuid.uuid4().hex[:8]}"
        self.ok(
            "tickets", "admin", "POST", "/api/tickets/categories/", {"slug": slug, "name": slug}
        )
        return slug


def sign_in(accounts: httpx.Client, username: str, password: str) -> str:
    response = accounts.post(
        "/api/accounts/auth/token/", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access"]
    return token


@pytest.fixture(scope="module")
def world(pg_stack: Stack) -> Iterator[World]:
    clients = {
        name: httpx.Client(base_url=pg_stack.service_url(name), timeout=30) for name in SERVICES
    }
    try:
        accounts = clients["accounts"]
        tokens = {
            "admin": sign_in(accounts, *DEMO_ADMIN),
            "technician": sign_in(accounts, *DEMO_TECHNICIAN),
        }
        world = World(clients=clients, tokens=tokens)
        run = uuid.uuid4().hex[:8]
        for who in ("client", "other_client"):
            username = f"matrix-{who.replace('_', '-')}-{run}"
            user = world.ok(
                "accounts",
                "admin",
                "POST",
                "/api/accounts/users/",
                {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            )
            world.ids[f"{who}_user"] = user["id"]
            world.ids[f"{who}_email"] = user["email"]
            world.ids[f"{who}_username"] = username
            tokens[who] = sign_in(accounts, username, PASSWORD)
        for who in ("technician", "admin"):
            world.ids[f"{who}_user"] = world.ok("accounts", who, "GET", "/api/accounts/me/")["id"]
        world.ids["other_technician_user"] = next(
            user["id"]
            for user in world.ok("tickets", "admin", "GET", "/api/tickets/assignees/")
            if user["username"] == DEMO_OTHER_TECHNICIAN
        )
        # Tickets of the client and of another client; each gets a receipt notification.
        world.ids["own_ticket"] = world.new_ticket("client")
        world.ids["other_ticket"] = world.new_ticket("other_client")
        for who in ("own", "other"):
            owner = "client" if who == "own" else "other_client"
            attachment = world.new_attachment(owner, world.ids[f"{who}_ticket"])
            world.ids[f"{who}_attachment"] = attachment
        world.ids["category"] = world.new_category()
        for who in ("client", "other_client"):
            page = eventually(
                lambda who=who: world.ok("notifier", who, "GET", "/api/notifications/")["results"],
                what=f"the {who}'s ticket receipt in the notification feed",
            )
            world.ids[f"{who}_notification"] = page[0]["id"]
        # Staff open tickets for the client once tickets' own user directory knows it; it
        # learns of new users from its own consumer, apart from notifier's.
        eventually(
            lambda: (
                world.call("tickets", "admin", "POST", T, ticket_body(world, "admin")).status_code
                == 201
            ),
            what="the client in tickets' user directory",
        )
        world.ids["sla_high"] = world.ok(
            "tickets", "admin", "GET", "/api/tickets/sla-targets/high/"
        )
        # The agent workspace (issue 18): a team, an admin's shared canned response and
        # saved view, each made through the API.
        world.ids["team"] = world.new_team()
        world.ids["shared_macro"] = world.new_shared_macro()
        world.ids["shared_view"] = world.new_shared_view()
        # Business calendars (issue 19): one to read and edit.
        world.ids["calendar"] = world.new_calendar()
        # Integrations (issue 20): a webhook endpoint to read and edit.
        world.ids["webhook"] = world.new_webhook()
        yield world
    finally:
        for client in clients.values():
            client.close()


# --- The matrix ------------------------------------------------------------------------------

Body = Callable[[World, str], Any] | dict[str, Any] | None


@dataclass(frozen=True)
class Row:
    operation: str  # as the schema labels it: "GET /api/tickets/{id}/"
    path: Callable[[World, str], str] | str  # the concrete path, per caller
    expected: tuple[int | None, ...]  # anonymous, client, technician, admin (None: not called)
    body: Body = None
    note: str = ""
    form: bool = False  # the body as a form (Twilio's callback) instead of JSON
    files: bool = False  # the body as multipart files (attachments) instead of JSON

    @property
    def method(self) -> str:
        return self.operation.split(" ", 1)[0]

    @property
    def service(self) -> str:
        path = self.operation.split(" ", 1)[1]
        return next(name for name, prefix in SERVICES.items() if path.startswith(prefix))

    def __str__(self) -> str:
        return f"{self.operation} {self.note}".strip()


def same_for_all(status: int) -> tuple[int, int, int, int]:
    return (status, status, status, status)


def public_rate_limited(status: int) -> tuple[int | None, ...]:
    """A public operation with a low hourly limit per address: anonymous and with an admin's
    token (which it does not read) are enough to show it answers alike."""
    return (status, None, None, status)


def signed_in(status: int) -> tuple[int, int, int, int]:
    return (401, status, status, status)


def staff(status: int) -> tuple[int, int, int, int]:
    return (401, 403, status, status)


def admin_only(status: int, *, others: int = 403) -> tuple[int, int, int, int]:
    return (401, others, others, status)


def ids(key: str, template: str) -> Callable[[World, str], str]:
    return lambda world, caller: template.format(world.ids[key])


def own_user(template: str) -> Callable[[World, str], str]:
    return lambda world, caller: template.format(world.ids.get(f"{caller}_user", 1))


def fresh_ticket(template: str) -> Callable[[World, str], str]:
    """A new ticket of the client for each call: workflow moves do not depend on order."""
    return lambda world, caller: template.format(world.new_ticket("client"))


def fresh(kind: str, template: str) -> Callable[[World, str], str]:
    """A new team, shared canned response or shared view for each call (for deletes)."""
    return lambda world, caller: template.format(getattr(world, f"new_{kind}")())


def merge_pair(world: World, caller: str) -> str:
    """Two new tickets of the client: the path merges the first; the body names the
    second (``merge_body``)."""
    world.ids["merge_into"] = world.new_ticket("client")
    return f"{T}{world.new_ticket('client')}/merge/"


def merge_body(world: World, caller: str) -> dict[str, Any]:
    return {"into_id": int(world.ids["merge_into"])}


def fresh_category(world: World, caller: str) -> str:
    return f"/api/tickets/categories/{world.new_category()}/"


def ticket_body(world: World, caller: str) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Printer jam", "description": "Floor 3."}
    if caller in ("technician", "admin"):
        body["client_id"] = world.ids["client_user"]  # staff open tickets for a client
    return body


A = "/api/accounts/"
T = "/api/tickets/"
N = "/api/notifications/"
R = "/api/reports/"
MATRIX = [
    # accounts: public operations answer every caller alike (the token is not read).
    Row(f"GET {A}.well-known/jwks.json", f"{A}.well-known/jwks.json", same_for_all(200)),
    Row(f"GET {A}auth/social/providers/", f"{A}auth/social/providers/", same_for_all(200)),
    Row(
        f"POST {A}auth/register/",
        f"{A}auth/register/",
        public_rate_limited(400),
        {"username": "", "email": "not-an-email", "password": "x"},
        "(invalid: no account is made)",
    ),
    Row(
        f"POST {A}auth/token/",
        f"{A}auth/token/",
        same_for_all(401),
        {"username": "nobody-here", "password": "wrong-password-1"},
    ),
    Row(
        f"POST {A}auth/token/refresh/",
        f"{A}auth/token/refresh/",
        same_for_all(401),
        {"refresh": "x.y.z"},
    ),
    Row(f"POST {A}auth/logout/", f"{A}auth/logout/", same_for_all(401), {"refresh": "x.y.z"}),
    Row(
        f"POST {A}auth/social/exchange/",
        f"{A}auth/social/exchange/",
        same_for_all(401),
        {"code": "nope", "nonce": "web-session-nonce"},
    ),
    Row(
        f"POST {A}auth/password/reset/",
        f"{A}auth/password/reset/",
        public_rate_limited(202),
        lambda world, caller: {"email": f"nobody-{caller}-{uuid.uuid4().hex[:6]}@example.com"},
    ),
    Row(
        f"POST {A}auth/password/reset/confirm/",
        f"{A}auth/password/reset/confirm/",
        public_rate_limited(400),
        {"uid": "x", "token": "y", "new_password": "Another-long-secret-9"},
    ),
    # accounts: your own profile.
    Row(f"GET {A}me/", f"{A}me/", signed_in(200)),
    Row(f"PATCH {A}me/", f"{A}me/", signed_in(200), {"notify_email": True}),
    Row(
        f"POST {A}me/password/",
        f"{A}me/password/",
        signed_in(400),
        {"current_password": "not-the-password", "new_password": "Another-long-secret-9"},
        "(wrong current password: reached, refused as invalid)",
    ),
    # accounts: proving one's own address and number, linking one's own provider login.
    Row(
        f"POST {A}me/email/confirm/",
        f"{A}me/email/confirm/",
        signed_in(400),
        {"token": "not-a-real-token"},
        "(a made-up token: reached, refused)",
    ),
    Row(
        f"POST {A}me/email/send-confirmation/",
        f"{A}me/email/send-confirmation/",
        signed_in(400),
        note="(every caller's address is confirmed: nothing to send)",
    ),
    Row(
        f"POST {A}me/phone/send-code/",
        f"{A}me/phone/send-code/",
        signed_in(400),
        note="(no phone, or the demo technician's verified one: nothing to send)",
    ),
    Row(
        f"POST {A}me/phone/verify/",
        f"{A}me/phone/verify/",
        signed_in(400),
        {"code": "000000"},
        "(no phone, or a verified one: reached, refused)",
    ),
    Row(
        f"POST {A}me/social/link/",
        f"{A}me/social/link/",
        signed_in(400),
        {"provider": "google"},
        "(no provider configured in the local stack)",
    ),
    Row(
        f"POST {A}me/social/link/confirm/",
        f"{A}me/social/link/confirm/",
        signed_in(400),
        {"code": "no-such-code", "nonce": ""},
        "(no pending link: reached, refused)",
    ),
    # accounts: users are for admins; a user is an object, so others get 404.
    Row(f"GET {A}users/", f"{A}users/", admin_only(200)),
    Row(
        f"POST {A}users/",
        f"{A}users/",
        admin_only(201),
        lambda world, caller: {
            "username": f"matrix-made-{caller}-{uuid.uuid4().hex[:6]}",
            "email": f"made-{uuid.uuid4().hex[:6]}@example.com",
            "password": PASSWORD,
        },
    ),
    Row(
        f"GET {A}users/{{user_id}}/",
        own_user(A + "users/{}/"),
        admin_only(200, others=404),
        note="own",
    ),
    Row(
        f"GET {A}users/{{user_id}}/",
        ids("other_client_user", A + "users/{}/"),
        admin_only(200, others=404),
        note="other's",
    ),
    Row(
        f"PATCH {A}users/{{user_id}}/",
        ids("other_client_user", A + "users/{}/"),
        admin_only(200, others=404),
        {"full_name": "Renamed By Matrix"},
        "other's",
    ),
    # tickets: a client sees their own tickets only; staff see all.
    Row(f"GET {T}", T, signed_in(200)),
    Row(f"POST {T}", T, signed_in(201), ticket_body),
    Row(f"GET {T}{{id}}/", ids("own_ticket", T + "{}/"), signed_in(200), note="own"),
    Row(f"GET {T}{{id}}/", ids("other_ticket", T + "{}/"), (401, 404, 200, 200), note="other's"),
    Row(
        f"PATCH {T}{{id}}/",
        ids("own_ticket", T + "{}/"),
        signed_in(200),
        {"title": "Edited"},
        "own",
    ),
    Row(
        f"PATCH {T}{{id}}/",
        ids("other_ticket", T + "{}/"),
        (401, 404, 200, 200),
        {"title": "Edited"},
        "other's",
    ),
    Row(
        f"POST {T}{{id}}/status/",
        fresh_ticket(T + "{}/status/"),
        staff(200),
        {"status": "in_progress"},
        "own",
    ),
    Row(
        f"POST {T}{{id}}/status/",
        ids("other_ticket", T + "{}/status/"),
        (401, 404, 409, 409),
        {"status": "resolved"},
        "other's (pending -> resolved is not a move: staff reach the workflow)",
    ),
    Row(
        f"POST {T}{{id}}/assign/",
        fresh_ticket(T + "{}/assign/"),
        staff(200),
        lambda world, caller: {"assignee_id": world.ids.get(f"{caller}_user")},
        "own, to the caller (a technician takes it)",
    ),
    Row(
        f"POST {T}{{id}}/assign/",
        fresh_ticket(T + "{}/assign/"),
        (401, 403, 403, 200),
        lambda world, caller: {"assignee_id": world.ids["other_technician_user"]},
        "own, to another technician (admins only)",
    ),
    Row(
        f"POST {T}{{id}}/assign/",
        ids("other_ticket", T + "{}/assign/"),
        (401, 404, 200, 200),
        {"assignee_id": None},
        "other's, unassign",
    ),
    Row(
        f"GET {T}{{id}}/comments/",
        ids("own_ticket", T + "{}/comments/"),
        signed_in(200),
        note="own",
    ),
    Row(
        f"GET {T}{{id}}/comments/",
        ids("other_ticket", T + "{}/comments/"),
        (401, 404, 200, 200),
        note="other's",
    ),
    Row(
        f"POST {T}{{id}}/comments/",
        ids("own_ticket", T + "{}/comments/"),
        signed_in(201),
        {"body": "Any news?"},
        "own, public",
    ),
    Row(
        f"POST {T}{{id}}/comments/",
        ids("own_ticket", T + "{}/comments/"),
        staff(201),
        {"body": "Check the VPN logs", "internal": True},
        "own, internal note",
    ),
    Row(
        f"POST {T}{{id}}/comments/",
        ids("other_ticket", T + "{}/comments/"),
        (401, 404, 201, 201),
        {"body": "Any news?"},
        "other's",
    ),
    Row(
        f"GET {T}{{id}}/attachments/",
        ids("own_ticket", T + "{}/attachments/"),
        signed_in(200),
        note="own",
    ),
    Row(
        f"GET {T}{{id}}/attachments/",
        ids("other_ticket", T + "{}/attachments/"),
        (401, 404, 200, 200),
        note="other's",
    ),
    Row(
        f"POST {T}{{id}}/attachments/",
        ids("own_ticket", T + "{}/attachments/"),
        signed_in(201),
        ATTACHMENT,
        "own",
        files=True,
    ),
    Row(
        f"POST {T}{{id}}/attachments/",
        ids("other_ticket", T + "{}/attachments/"),
        (401, 404, 201, 201),
        ATTACHMENT,
        "other's",
        files=True,
    ),
    Row(
        f"GET {T}{{id}}/attachments/{{attachment_id}}/download/",
        lambda world, caller: (
            f"{T}{world.ids['own_ticket']}/attachments/{world.ids['own_attachment']}/download/"
        ),
        signed_in(200),
        note="own",
    ),
    Row(
        f"GET {T}{{id}}/attachments/{{attachment_id}}/download/",
        lambda world, caller: (
            f"{T}{world.ids['other_ticket']}/attachments/{world.ids['other_attachment']}/download/"
        ),
        (401, 404, 200, 200),
        note="other's",
    ),
    Row(
        f"GET {T}{{id}}/history/", ids("own_ticket", T + "{}/history/"), signed_in(200), note="own"
    ),
    Row(
        f"GET {T}{{id}}/history/",
        ids("other_ticket", T + "{}/history/"),
        (401, 404, 200, 200),
        note="other's",
    ),
    Row(f"GET {T}assignees/", f"{T}assignees/", staff(200)),
    Row(f"GET {T}clients/", f"{T}clients/?q=a", staff(200)),
    Row(f"GET {T}categories/", f"{T}categories/", signed_in(200)),
    Row(
        f"POST {T}categories/",
        f"{T}categories/",
        admin_only(201),
        lambda world, caller: {"slug": f"matrix-{uuid.uuid4().hex[:8]}", "name": "Matrix"},
    ),
    Row(f"GET {T}categories/{{slug}}/", ids("category", T + "categories/{}/"), signed_in(200)),
    Row(
        f"PATCH {T}categories/{{slug}}/",
        ids("category", T + "categories/{}/"),
        admin_only(200),
        {"description": "Checked by the permission matrix."},
    ),
    Row(f"DELETE {T}categories/{{slug}}/", fresh_category, admin_only(204)),
    Row(f"GET {T}sla-targets/", f"{T}sla-targets/", signed_in(200)),
    Row(f"GET {T}sla-targets/{{priority}}/", f"{T}sla-targets/high/", signed_in(200)),
    Row(
        f"PUT {T}sla-targets/{{priority}}/",
        f"{T}sla-targets/high/",
        admin_only(200),
        lambda world, caller: {
            key: world.ids["sla_high"][key] for key in ("first_response_hours", "resolution_hours")
        },
        "(same targets)",
    ),
    Row(
        f"PATCH {T}sla-targets/{{priority}}/",
        f"{T}sla-targets/high/",
        admin_only(200),
        lambda world, caller: {"resolution_hours": world.ids["sla_high"]["resolution_hours"]},
        "(same target)",
    ),
    # tickets, the agent workspace (issue 18): staff tools; admins write what is shared.
    Row(f"PATCH {T}assignees/me/", f"{T}assignees/me/", staff(200), {"available": True}),
    Row(f"GET {T}teams/", f"{T}teams/", staff(200)),
    Row(
        f"POST {T}teams/",
        f"{T}teams/",
        admin_only(201),
        lambda world, caller: {"name": f"Matrix {caller} {uuid.uuid4().hex[:6]}"},
    ),
    Row(f"GET {T}teams/{{id}}/", ids("team", T + "teams/{}/"), staff(200)),
    Row(
        f"PATCH {T}teams/{{id}}/",
        ids("team", T + "teams/{}/"),
        admin_only(200),
        {"assignment": "manual"},
    ),
    Row(f"DELETE {T}teams/{{id}}/", fresh("team", T + "teams/{}/"), admin_only(204)),
    Row(f"GET {T}tags/", f"{T}tags/?q=a", staff(200)),
    Row(f"GET {T}macros/", f"{T}macros/", staff(200)),
    Row(
        f"POST {T}macros/",
        f"{T}macros/",
        staff(201),
        {"title": "Mine", "body": "Hola {cliente}"},
        "(personal)",
    ),
    Row(f"GET {T}macros/{{id}}/", ids("shared_macro", T + "macros/{}/"), staff(200), note="shared"),
    Row(
        f"PATCH {T}macros/{{id}}/",
        ids("shared_macro", T + "macros/{}/"),
        admin_only(200),
        {"title": "Matrix, edited"},
        "shared",
    ),
    Row(
        f"DELETE {T}macros/{{id}}/",
        fresh("shared_macro", T + "macros/{}/"),
        admin_only(204),
        note="shared",
    ),
    Row(
        f"POST {T}{{id}}/apply-macro/",
        fresh_ticket(T + "{}/apply-macro/"),
        staff(200),
        lambda world, caller: {"macro_id": int(world.ids["shared_macro"])},
        "shared, on the client's ticket",
    ),
    Row(
        f"POST {T}bulk/",
        f"{T}bulk/",
        staff(200),
        lambda world, caller: {
            "ids": [int(world.ids["other_ticket"])],
            "action": "priority",
            "value": "high",
        },
    ),
    Row(f"GET {T}views/", f"{T}views/", signed_in(200)),
    Row(
        f"POST {T}views/",
        f"{T}views/",
        signed_in(201),
        {"name": "Pending", "filters": {"status": "pending"}},
        "(personal)",
    ),
    Row(
        f"PATCH {T}views/{{id}}/",
        ids("shared_view", T + "views/{}/"),
        admin_only(200),
        {"name": "Matrix, renamed"},
        "shared",
    ),
    Row(
        f"DELETE {T}views/{{id}}/",
        fresh("shared_view", T + "views/{}/"),
        admin_only(204),
        note="shared",
    ),
    Row(f"GET {T}status-counts/", f"{T}status-counts/?status=pending", signed_in(200)),
    Row(
        f"POST {T}{{id}}/merge/",
        merge_pair,
        staff(200),
        merge_body,
        "two tickets of one client",
    ),
    # tickets, business time and satisfaction (issue 19): staff read the calendars, admins
    # write them; the rating link is its own credential (no sign-in, a token is not read),
    # so a forged one is a 404 for everyone, whoever is signed in.
    Row(f"GET {T}calendars/", f"{T}calendars/", staff(200)),
    Row(
        f"POST {T}calendars/",
        f"{T}calendars/",
        admin_only(201),
        lambda world, caller: {
            "name": f"Matrix {caller} {uuid.uuid4().hex[:6]}",
            "time_zone": "Europe/Madrid",
            "week": WEEK,
            "holidays": [{"date": "2026-12-25", "name": "Navidad"}],
        },
    ),
    Row(f"GET {T}calendars/{{id}}/", ids("calendar", T + "calendars/{}/"), staff(200)),
    Row(
        f"PATCH {T}calendars/{{id}}/",
        ids("calendar", T + "calendars/{}/"),
        admin_only(200),
        {"holidays": [{"date": "2027-01-01", "name": "Año nuevo"}]},
    ),
    Row(
        f"DELETE {T}calendars/{{id}}/",
        fresh("calendar", T + "calendars/{}/"),
        admin_only(204),
    ),
    *(
        Row(f"GET {T}csat/{{token}}/", f"{T}csat/{token}/", same_for_all(404), note=note)
        for token, note in zip(FORGED_TOKENS, ("(rubbish)", "(a forged signature)"), strict=True)
    ),
    *(
        Row(
            f"POST {T}csat/{{token}}/",
            f"{T}csat/{token}/",
            same_for_all(404),
            {"rating": "bad", "comment": "Forged"},
            note,
        )
        for token, note in zip(FORGED_TOKENS, ("(rubbish)", "(a forged signature)"), strict=True)
    ),
    # Integrations (issue 20): API keys and webhooks are an admin's.
    Row(f"GET {A}api-keys/", f"{A}api-keys/", admin_only(200)),
    Row(
        f"POST {A}api-keys/",
        f"{A}api-keys/",
        admin_only(201),
        lambda world, caller: {
            "name": f"Matrix {caller} {uuid.uuid4().hex[:6]}",
            "role": "technician",
            "read_only": True,
        },
    ),
    Row(f"DELETE {A}api-keys/{{key_id}}/", fresh("api_key", A + "api-keys/{}/"), admin_only(204)),
    Row(f"GET {N}webhooks/", f"{N}webhooks/", admin_only(200)),
    Row(
        f"POST {N}webhooks/",
        f"{N}webhooks/",
        admin_only(201),
        {"url": "https://hooks.example.com/matrix", "events": ["ticket.created"], "active": False},
    ),
    Row(
        f"GET {N}webhooks/{{webhook_id}}/",
        ids("webhook", N + "webhooks/{}/"),
        admin_only(200),
    ),
    Row(
        f"PATCH {N}webhooks/{{webhook_id}}/",
        ids("webhook", N + "webhooks/{}/"),
        admin_only(200),
        {"events": ["ticket.created", "ticket.closed"]},
    ),
    Row(
        f"DELETE {N}webhooks/{{webhook_id}}/",
        fresh("webhook", N + "webhooks/{}/"),
        admin_only(204),
    ),
    Row(
        f"POST {N}webhooks/{{webhook_id}}/rotate-secret/",
        ids("webhook", N + "webhooks/{}/rotate-secret/"),
        admin_only(200),
    ),
    Row(
        f"GET {N}webhooks/{{webhook_id}}/deliveries/",
        ids("webhook", N + "webhooks/{}/deliveries/"),
        admin_only(200),
    ),
    Row(
        f"POST {N}webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver/",
        ids("webhook", N + "webhooks/{}/deliveries/999999999/redeliver/"),
        admin_only(404),
        note="an unknown delivery",
    ),
    # notifier: a feed is personal; another person's notification does not exist for you.
    Row(f"GET {N}", N, signed_in(200)),
    Row(f"GET {N}unread-count/", f"{N}unread-count/", signed_in(200)),
    Row(f"POST {N}read-all/", f"{N}read-all/", signed_in(204)),
    Row(
        f"POST {N}{{notification_id}}/read/",
        ids("client_notification", N + "{}/read/"),
        (401, 204, 404, 404),
        note="the client's",
    ),
    Row(
        f"POST {N}{{notification_id}}/read/",
        ids("other_client_notification", N + "{}/read/"),
        (401, 404, 404, 404),
        note="another client's",
    ),
    Row(f"GET {N}deliveries/", f"{N}deliveries/", admin_only(200)),
    Row(
        f"POST {N}deliveries/{{delivery_id}}/retry/",
        f"{N}deliveries/999999999/retry/",
        admin_only(404),
        note="an unknown delivery",
    ),
    Row(
        f"POST {N}twilio/status/",
        f"{N}twilio/status/",
        same_for_all(403),
        {"MessageSid": "SM1", "MessageStatus": "delivered"},
        "(Twilio's signature, not a token, authorizes it)",
        form=True,
    ),
    # reports: admins only.
    Row(f"GET {R}summary/", f"{R}summary/", admin_only(200)),
    Row(f"GET {R}export.pdf", f"{R}export.pdf", admin_only(200)),
    Row(f"GET {R}export.xlsx", f"{R}export.xlsx", admin_only(200)),
    Row(f"GET {R}export.csv", f"{R}export.csv", admin_only(200)),
    Row(f"GET {R}charts/{{name}}.{{fmt}}", f"{R}charts/status.svg", admin_only(200)),
    # Exports as jobs (issue 22): an admin's own; an unknown id is not found.
    Row(f"POST {R}exports/", f"{R}exports/", admin_only(202), {"format": "csv"}),
    Row(
        f"GET {R}exports/{{job_id}}/",
        f"{R}exports/{uuid.uuid4()}/",
        admin_only(404),
        note="an unknown job",
    ),
    Row(
        f"GET {R}exports/{{job_id}}/download/",
        f"{R}exports/{uuid.uuid4()}/download/",
        admin_only(404),
        note="an unknown job",
    ),
    # Monitoring (issue 22): the audit trail, and each consuming service's dead letters
    # (an unknown one to replay or discard: the stack's own stay where they are).
    Row(f"GET {A}audit/", f"{A}audit/", admin_only(200)),
    *(
        row
        for prefix in (A, T, N, R)
        for row in (
            Row(f"GET {prefix}dead-letters/", f"{prefix}dead-letters/", admin_only(200)),
            Row(
                f"POST {prefix}dead-letters/{{key}}/replay/",
                f"{prefix}dead-letters/{uuid.uuid4()}/replay/",
                admin_only(404),
                note="an unknown dead letter",
            ),
            Row(
                f"DELETE {prefix}dead-letters/{{key}}/",
                f"{prefix}dead-letters/{uuid.uuid4()}/",
                admin_only(404),
                note="an unknown dead letter",
            ),
        )
    ),
]

CASES = [
    pytest.param(row, caller, expected, id=f"{row}-{caller}")
    for row in MATRIX
    for caller, expected in zip(CALLERS, row.expected, strict=True)
    if expected is not None
]


@pytest.mark.parametrize(("row", "caller", "expected"), CASES)
def test_authorization_matrix(world: World, row: Row, caller: str, expected: int) -> None:
    path = row.path(world, caller) if callable(row.path) else row.path
    body = row.body(world, caller) if callable(row.body) else row.body
    response = world.call(
        row.service, caller, row.method, path, body, form=row.form, files=row.files
    )
    assert response.status_code == expected, (
        f"{row.method} {path} as {caller}: {response.status_code} {response.text[:300]}"
    )
    if expected >= 400:
        error = response.json()
        assert set(error) == {"message", "extra"}, error
        assert error["message"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_of_the_served_schema_has_a_row(pg_stack: Stack, service: str) -> None:
    url = f"{pg_stack.service_url(service)}{SERVICES[service]}schema/"
    schema = httpx.get(url, headers={"Accept": "application/json"}, timeout=30).json()
    served = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    covered = {row.operation for row in MATRIX}
    assert served <= covered, f"operations without a row: {sorted(served - covered)}"


# --- Web pages of issue 19 ------------------------------------------------------------------
#
# The same four callers with web sessions (signed in through web's own form, on web's own
# port like the APIs above): the calendars pages are an admin's, anyone else is refused
# (a sign-in redirect without a session, a 403 page with one); the rating page needs no
# sign-in and says a link nobody minted is not valid (404), whoever opens it.

CSRF_COOKIE = "servidesk_csrftoken"


@dataclass(frozen=True)
class WebPage:
    path: Callable[[World], str] | str
    expected: tuple[int, int, int, int]  # anonymous, client, technician, admin
    #: A data-testid the page carries whenever it answers (not a redirect).
    testid: str = ""
    method: str = "GET"
    data: dict[str, str] = field(default_factory=dict)
    #: The secret link's page: never cached, indexed or sent on as a Referer.
    private: bool = False

    def __str__(self) -> str:
        path = self.path if isinstance(self.path, str) else self.path.__name__
        return f"{self.method} {path}"


def a_calendar(world: World) -> str:
    return f"/admin/calendars/{world.ids['calendar']}/"


WEB_PAGES = [
    WebPage("/admin/calendars/", (302, 403, 403, 200), "calendar-form"),
    WebPage(a_calendar, (302, 403, 403, 200), "calendar-form"),
    WebPage("/admin/calendars/999999999/", (302, 403, 403, 404)),
    WebPage(
        "/admin/calendars/",
        (302, 403, 403, 400),
        "calendar-form",
        method="POST",
        data={"name": "", "time_zone": "Europe/Madrid", "mon": "18:00-09:00"},
    ),
    *(
        WebPage(f"/csat/{token}/", (404, 404, 404, 404), "csat-invalid", private=True)
        for token in FORGED_TOKENS
    ),
    WebPage(f"/csat/{FORGED_TOKENS[1]}/?rating=good", (404,) * 4, "csat-invalid", private=True),
    WebPage(
        f"/csat/{FORGED_TOKENS[0]}/",
        (404,) * 4,
        "csat-invalid",
        method="POST",
        data={"rating": "good", "comment": "Forged"},
        private=True,
    ),
    # Monitoring (issue 22): admins only.
    WebPage("/admin/deliveries/", (302, 403, 403, 200)),
    WebPage("/admin/dead-letters/", (302, 403, 403, 200)),
    WebPage("/admin/audit/", (302, 403, 403, 200)),
    # Not a token's characters: refused by the URL itself, before any call.
    WebPage("/csat/%3Cscript%3Ealert(1)%3C%2Fscript%3E/", (404,) * 4),
]


def web_sign_in(web: httpx.Client, username: str, password: str) -> None:
    form = web.get("/login/")
    assert form.status_code == 200, form.text[:300]
    signed = web.post(
        "/login/",
        data={
            "csrfmiddlewaretoken": web.cookies[CSRF_COOKIE],
            "username": username,
            "password": password,
        },
    )
    assert signed.status_code == 302, f"{username} could not sign in to web: {signed.text[:300]}"


@pytest.fixture(scope="module")
def web_sessions(world: World, pg_stack: Stack) -> Iterator[dict[str, httpx.Client]]:
    credentials = {
        "client": (world.ids["client_username"], PASSWORD),
        "technician": DEMO_TECHNICIAN,
        "admin": DEMO_ADMIN,
    }
    sessions: dict[str, httpx.Client] = {}
    try:
        for caller in CALLERS:
            web = httpx.Client(
                base_url=pg_stack.service_url("web"),
                timeout=30,
                headers={"Accept-Language": "en"},
            )
            sessions[caller] = web
            if caller in credentials:
                web_sign_in(web, *credentials[caller])
            else:
                assert web.get("/login/").status_code == 200  # the CSRF cookie a form needs
        yield sessions
    finally:
        for web in sessions.values():
            web.close()


WEB_CASES = [
    pytest.param(page, caller, expected, id=f"{page}-{caller}")
    for page in WEB_PAGES
    for caller, expected in zip(CALLERS, page.expected, strict=True)
]


@pytest.mark.parametrize(("page", "caller", "expected"), WEB_CASES)
def test_web_pages_matrix(
    world: World, web_sessions: dict[str, httpx.Client], page: WebPage, caller: str, expected: int
) -> None:
    web = web_sessions[caller]
    path = page.path(world) if callable(page.path) else page.path
    if page.method == "POST":
        data = {"csrfmiddlewaretoken": web.cookies[CSRF_COOKIE], **page.data}
        response = web.post(path, data=data)
    else:
        response = web.get(path)
    assert response.status_code == expected, (
        f"{page.method} {path} as {caller}: {response.status_code} {response.text[:300]}"
    )
    if expected == 302:
        assert response.headers["Location"].startswith("/login/?next="), response.headers
        return
    assert response.headers["Content-Type"].startswith("text/html"), response.headers
    if page.testid and expected != 403:
        assert f'data-testid="{page.testid}"' in response.text, response.text[:500]
    if page.private:
        assert response.headers["Cache-Control"] == "no-store"
        # The link's token never leaves in a Referer to another site ("same-origin" also
        # lets the page's own POST carry its Origin, which CSRF checks).
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
