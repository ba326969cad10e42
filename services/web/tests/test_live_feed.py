"""The live feed: rows from events, who may see which, replay after Last-Event-ID, and the
stream itself (web-events' ASGI application under uvicorn) on the real PostgreSQL."""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from django.conf import settings
from django.db import transaction
from django.test import Client
from portal.api.session import TOKENS_KEY, USER_KEY
from portal.live import handlers, selectors, services
from portal.live.selectors import Audience
from portal.live.stream import application
from portal.models import LiveEvent, LiveKind

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    CommentSnapshot,
    FieldChange,
    NotificationCreated,
    TicketCommented,
    TicketSnapshot,
    TicketUpdated,
)
from tests.fakes import FakeApis, sign_in_client

NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def ticket(ticket_id: int = 10, client_id: int = 7) -> TicketSnapshot:
    return TicketSnapshot(
        id=ticket_id,
        number=f"SD-{ticket_id}",
        title="<b>Impresora</b>",
        description="",
        status="in_progress",
        priority="medium",
        category="",
        client_id=client_id,
        assignee_id=3,
        created_at=NOW,
        updated_at=NOW,
    )


def commented(
    *, internal: bool = False, ticket_id: int = 10, client_id: int = 7
) -> TicketCommented:
    return TicketCommented(
        ticket=ticket(ticket_id, client_id),
        actor_id=3,
        comment=CommentSnapshot(id=1, author_id=3, body="hola", internal=internal, created_at=NOW),
    )


def notified(user_id: str, unread: int = 1) -> NotificationCreated:
    return NotificationCreated(
        user_id=user_id,
        notification_id=5,
        ticket_id=10,
        event_type="ticket.commented",
        title="Nueva respuesta en SD-10",
        created_at=NOW,
        unread_count=unread,
    )


def handle(data: Any) -> None:
    event = Event(
        id=uuid.uuid4(),
        type=data.type,
        version=data.version,
        occurred_at=NOW,
        producer=data.producer,
        data=data,
        aggregate_id=data.aggregate_id,
        sequence=1,
    )
    handler = handlers.handlers.get(event.type)
    assert handler is not None
    with transaction.atomic():
        handler(event)


@pytest.mark.django_db
def test_events_become_rows_with_their_audience() -> None:
    handle(commented(internal=False))
    handle(commented(internal=True))
    handle(
        TicketUpdated(
            ticket=ticket(), actor_id=3, changes={"tags": FieldChange(before=[], after=["vip"])}
        )
    )
    handle(notified("7", unread=4))
    rows = list(LiveEvent.objects.order_by("id"))
    assert [(r.kind, r.ticket_id, r.client_id, r.internal) for r in rows] == [
        (LiveKind.TICKET, "10", "7", False),
        (LiveKind.TICKET, "10", "7", True),  # an internal note
        (LiveKind.TICKET, "10", "7", True),  # tags are staff-only
        (LiveKind.NOTIFICATION, "10", "", False),
    ]
    assert rows[0].data == {"type": "ticket.commented", "ticket_id": "10", "actor_id": "3"}
    assert "hola" not in json.dumps([r.data for r in rows])  # never the content
    assert rows[3].recipient_id == "7"
    assert rows[3].data["unread_count"] == 4


def test_the_handlers_cover_every_ticket_event_and_notifications() -> None:
    assert "ticket.commented" in handlers.handlers
    assert "ticket.sla_breached" in handlers.handlers
    assert "notification.created" in handlers.handlers
    assert "user.updated" not in handlers.handlers


@pytest.fixture
def table(db: None) -> dict[str, int]:
    """One row of each sort, by name: what the audiences below may see of them."""
    made = {
        "public on 10": services.ticket_event_record(
            event_type="ticket.commented", data=commented()
        )[0],
        "internal on 10": services.ticket_event_record(
            event_type="ticket.commented", data=commented(internal=True)
        )[0],
        "public on 11 (other client)": services.ticket_event_record(
            event_type="ticket.commented", data=commented(ticket_id=11, client_id=8)
        )[0],
        "notification for 7": services.notification_record(data=notified("7")),
        "notification for 3": services.notification_record(data=notified("3")),
    }
    services.typing_record(ticket_id="10", user_id="3", name="Lucía")
    services.typing_record(ticket_id="10", user_id="4", name="Tom")
    made["3 typing on 10"] = LiveEvent.objects.get(kind="typing", data__user_id="3")
    made["4 typing on 10"] = LiveEvent.objects.get(kind="typing", data__user_id="4")
    return {name: row.id for name, row in made.items()}


AUDIENCES = {
    # the client of ticket 10, on its page: its public changes and their own bell
    "client 7 on 10": (
        Audience(user_id="7", staff=False, ticket_id="10"),
        {"public on 10", "notification for 7"},
    ),
    # the same client on another client's ticket (a guessed id): their bell only
    "client 7 on 11": (
        Audience(user_id="7", staff=False, ticket_id="11"),
        {"notification for 7"},
    ),
    # a client on any other page: their bell only
    "client 7 anywhere": (Audience(user_id="7", staff=False), {"notification for 7"}),
    # a technician on ticket 10: every change, internal notes too, and who else types
    "technician 3 on 10": (
        Audience(user_id="3", staff=True, ticket_id="10"),
        {"public on 10", "internal on 10", "notification for 3", "4 typing on 10"},
    ),
    "technician 4 on 11": (
        Audience(user_id="4", staff=True, ticket_id="11"),
        {"public on 11 (other client)"},
    ),
}


@pytest.mark.parametrize("who", sorted(AUDIENCES))
def test_each_person_sees_only_what_they_may(table: dict[str, int], who: str) -> None:
    audience, expected = AUDIENCES[who]
    by_id = {row_id: name for name, row_id in table.items()}
    replayed = {by_id[row.id] for row in selectors.visible_rows(audience, after=0)}
    live = {
        by_id[row.id]
        for row in LiveEvent.objects.order_by("id")
        if selectors.visible(row, audience)
    }
    assert replayed == expected
    assert live == expected  # the hub's rule is the replay's rule


def test_replay_starts_after_the_last_event_id_and_stops_at_the_floor(
    table: dict[str, int],
) -> None:
    audience = Audience(user_id="3", staff=True, ticket_id="10")
    after = table["public on 10"]
    floor = table["notification for 3"]
    rows = selectors.visible_rows(audience, after=after, up_to=floor)
    assert [row.id for row in rows] == [table["internal on 10"], table["notification for 3"]]


def test_typing_is_throttled_and_forgotten_after_a_few_seconds(db: None) -> None:
    assert services.typing_record(ticket_id="10", user_id="3", name="Lucía") is True
    assert services.typing_record(ticket_id="10", user_id="3", name="Lucía") is False
    audience = Audience(user_id="4", staff=True, ticket_id="10")
    assert len(selectors.visible_rows(audience, after=0)) == 1
    LiveEvent.objects.update(created_at=datetime.now(tz=UTC) - timedelta(seconds=60))
    assert selectors.visible_rows(audience, after=0) == []


def test_old_rows_are_pruned(table: dict[str, int]) -> None:
    LiveEvent.objects.filter(id=table["public on 10"]).update(
        created_at=datetime.now(tz=UTC) - timedelta(hours=2)
    )
    assert services.prune() == 1


def test_typing_is_posted_by_staff_only(client: Client, apis: FakeApis, db: None) -> None:
    sign_in_client(client, role="client", user_id=7)
    assert client.post("/tickets/10/typing/").status_code == 403
    sign_in_client(client, role="technician", user_id=3, username="lucia")
    assert client.post("/tickets/10/typing/").status_code == 204
    assert client.get("/tickets/10/typing/").status_code == 405
    row = LiveEvent.objects.get()
    assert (row.kind, row.ticket_id, row.internal, row.data["name"]) == (
        "typing",
        "10",
        True,
        "Lucia",
    )


# --- the stream, served by uvicorn -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def events_server(transactional_db: None, settings: Any) -> Iterator[str]:
    settings.WEB_LIVE_KEEPALIVE_SECONDS = 0.5
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def session_cookie(*, user_id: str, role: str) -> dict[str, str]:
    engine = importlib.import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[TOKENS_KEY] = {"access": "a", "refresh": "r"}
    session[USER_KEY] = {"id": user_id, "username": "u", "role": role}
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key}


def read_events(lines: Iterator[str], count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` events of the stream's ``lines`` (comments skipped), as dicts."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    for line in lines:
        if time.monotonic() > deadline:
            break
        if not line:
            if "data" in current:
                found.append(current)
                if len(found) == count:
                    return found
            current = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        current[field] = json.loads(value) if field == "data" else value
    raise AssertionError(f"got {found}, wanted {count} events")


def test_the_stream_replays_after_last_event_id_then_follows_live(
    events_server: str,
) -> None:
    first = services.ticket_event_record(event_type="ticket.commented", data=commented())[0]
    hidden = services.ticket_event_record(
        event_type="ticket.commented", data=commented(internal=True)
    )[0]
    missed = services.notification_record(data=notified("7", unread=2))
    cookies = session_cookie(user_id="7", role="client")
    with (
        httpx.Client(base_url=events_server, cookies=cookies, timeout=10) as http,
        http.stream(
            "GET", "/events/?ticket=10&since=0", headers={"Last-Event-ID": str(first.id)}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        lines = response.iter_lines()
        (replayed,) = read_events(lines, 1)
        assert replayed["id"] == str(missed.id)  # after Last-Event-ID; never the note
        assert replayed["event"] == "notification"
        assert replayed["data"]["unread_count"] == 2
        assert int(replayed["id"]) > hidden.id
        # Now live: an internal note (not for the client), then a public reply.
        services.ticket_event_record(event_type="ticket.commented", data=commented(internal=True))
        live = services.ticket_event_record(event_type="ticket.commented", data=commented())[0]
        (followed,) = read_events(lines, 1)
        assert followed["id"] == str(live.id)
        assert followed["event"] == "ticket"
        assert followed["data"]["type"] == "ticket.commented"


def test_the_stream_sends_keep_alives(events_server: str) -> None:
    cookies = session_cookie(user_id="3", role="technician")
    with (
        httpx.Client(base_url=events_server, cookies=cookies, timeout=10) as http,
        http.stream("GET", "/events/") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(lines) == ""
        assert next(lines) == ": keep-alive"


def test_the_stream_needs_a_session(events_server: str) -> None:
    with httpx.Client(base_url=events_server, timeout=10) as http:
        assert http.get("/events/").status_code == 401
        http.cookies.set(settings.SESSION_COOKIE_NAME, "no-such-session")
        assert http.get("/events/").status_code == 401
        assert http.get("/tickets/").status_code == 404  # the pages stay on gunicorn
        assert http.get("/events/health/ready").status_code == 200
