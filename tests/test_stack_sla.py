"""Business time, the SLA that acts and satisfaction (issue 19) across the running stack.

A PostgreSQL + RabbitMQ stack of its own, started as `make up` starts it (every Procfile
process, ``tickets-sla`` included, here looking for due work every second), sends its mail
to a real SMTP server on loopback; its rating links point at its own gateway. Everything
below goes through nginx, as a browser or a mail client would:

- waiting on the client pauses the resolution clock, and the client's reply brings the
  ticket back to work with the clock running again, later by the time spent waiting;
- a resolution mails the client "How did we do?" with a rating link; the link's API needs
  no sign-in, the answer reaches the ticket (staff see it), notifier (the assignee hears
  of a bad one) and reports (the summary's ``csat``);
- a missed first response: ``watch_sla`` publishes ``ticket.sla_breached``, the team's
  escalation rule raises the priority, and the assignee and the lead are told in their
  feed and by mail.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
import psycopg
import pytest
from stack import (
    DEMO_ADMIN,
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    eventually,
    free_port,
    running_stack,
)

from servidesk_testing.fakes import ReceivedMail, SmtpServer

pytestmark = pytest.mark.stack
T = TypeVar("T")

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
PASSWORD = "Una-clave-larga-42"
#: Open around the clock: business hours are wall-clock hours, whatever the day the test
#: runs (the demo's default calendar is office hours with holidays).
ALWAYS_OPEN = {
    day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


@dataclass
class SlaStack:
    stack: Stack
    smtp: SmtpServer

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def log(self, *processes: str) -> str:
        lines = self.stack.log.read_text(errors="replace").splitlines()
        return "\n".join([line for line in lines if any(p in line for p in processes)][-60:])

    def eventually(self, check: Callable[[], T], *, what: str, timeout: float = 120) -> T:
        try:
            return eventually(check, timeout=timeout, what=what)
        except AssertionError as timed_out:
            wanted = ("tickets-sla", "notifier-", "reports-consumer", "tickets-relay")
            raise AssertionError(f"{timed_out}\n{self.log(*wanted)}") from None


@pytest.fixture(scope="module")
def sla_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlaStack]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    run = uuid.uuid4().hex[:8]
    gateway = f"127.0.0.1:{free_port()}"
    with SmtpServer() as smtp:
        env = {
            f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_sla_{run}_{name}"
            for name in SERVICES
        }
        env |= {
            "BROKER_URL": RABBITMQ_URL,
            "SERVIDESK_EVENT_PREFIX": f"sla-{run}.",
            "GATEWAY_LISTEN": gateway,
            # The rating links of the mails lead to this stack's own web.
            "WEB_BASE_URL": f"http://{gateway}",
            "EMAIL_HOST": smtp.host,
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": "false",
            "SLA_WATCH_SECONDS": "1",
            # Each test signs its own people in through nginx: a run's sign-ins, not
            # guessing (the limits have tests of their own).
            "GATEWAY_AUTH_RATE": "300r/m",
            "THROTTLE_LOGIN_ACCOUNT": "60/min",
            "THROTTLE_LOGIN_IP": "300/min",
        }
        try:
            with running_stack(tmp_path_factory.mktemp("sla"), env) as stack:
                yield SlaStack(stack, smtp)
        finally:
            drop_stack_resources(env)


# --- The people and objects each test makes through the APIs ----------------------------


class Desk:
    """The stack's APIs through nginx, as the demo admin or a person made here."""

    def __init__(self, sla_stack: SlaStack, http: httpx.Client) -> None:
        self.sla_stack = sla_stack
        self.http = http
        self.admin = self.sign_in(*DEMO_ADMIN)

    def sign_in(self, username: str, password: str) -> dict[str, str]:
        response = self.http.post(
            "/api/accounts/auth/token/", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access']}"}

    def call(
        self, method: str, path: str, who: dict[str, str] | None, expected: int = 200, **kw: Any
    ) -> Any:
        response = self.http.request(method, path, headers=who or {}, **kw)
        assert response.status_code == expected, f"{method} {path}: {response.text[:500]}"
        return response.json() if response.content else None

    def person(self, role: str, run: str, language: str = "en") -> dict[str, Any]:
        """A new user the admin makes (the address counts as confirmed), signed in; for
        staff, once tickets' directory knows them (they can be assigned)."""
        username = f"{role[:4]}{run}{uuid.uuid4().hex[:4]}"
        user: dict[str, Any] = self.call(
            "POST",
            "/api/accounts/users/",
            self.admin,
            201,
            json={
                "username": username,
                "email": f"{username}@example.com",
                "password": PASSWORD,
                "full_name": f"{role.title()} {run}",
                "role": role,
                "language": language,
            },
        )
        user["username"] = username
        user["headers"] = self.sign_in(username, PASSWORD)
        if role != "client":
            self.sla_stack.eventually(
                lambda: any(
                    str(row["id"]) == str(user["id"])
                    for row in self.call("GET", "/api/tickets/assignees/", self.admin)
                ),
                what=f"{username} among tickets' assignees",
            )
        return user

    def always_open_team(
        self, run: str, category: str, members: list[Any], lead: Any, **fields: Any
    ) -> dict[str, Any]:
        """A team with a calendar open around the clock, routed ``category``'s tickets."""
        calendar = self.call(
            "POST",
            "/api/tickets/calendars/",
            self.admin,
            201,
            json={"name": f"24/7 {run}", "time_zone": "UTC", "week": ALWAYS_OPEN},
        )
        team: dict[str, Any] = self.call(
            "POST",
            "/api/tickets/teams/",
            self.admin,
            201,
            json={
                "name": f"Equipo {run}",
                "member_ids": members,
                "lead_id": lead,
                "assignment": "manual",
                "category_slugs": [category],
                "calendar_id": calendar["id"],
                **fields,
            },
        )
        assert team["calendar_id"] == calendar["id"], team
        return team

    def category(self, run: str) -> str:
        """A category of the test's own: reports' figures filtered by it count its tickets."""
        slug = f"sla-{run}"
        self.call(
            "POST", "/api/tickets/categories/", self.admin, 201, json={"slug": slug, "name": slug}
        )
        return slug

    def ticket(self, ticket_id: Any, who: dict[str, str] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/tickets/{ticket_id}/", who or self.admin)
        return found

    def move(self, ticket_id: Any, status: str, who: dict[str, str]) -> dict[str, Any]:
        moved: dict[str, Any] = self.call(
            "POST", f"/api/tickets/{ticket_id}/status/", who, json={"status": status}
        )
        return moved

    def history(self, ticket_id: Any) -> list[dict[str, Any]]:
        page = self.call("GET", f"/api/tickets/{ticket_id}/history/", self.admin)
        return list(page["results"] if isinstance(page, dict) else page)

    def feed(self, who: dict[str, str], ticket_id: Any, event_type: str) -> list[dict[str, Any]]:
        page = self.call("GET", "/api/notifications/", who)
        return [
            n
            for n in page["results"]
            if str(n["ticket_id"]) == str(ticket_id) and n["event_type"] == event_type
        ]


@pytest.fixture(scope="module")
def desk(sla_stack: SlaStack) -> Iterator[Desk]:
    with httpx.Client(base_url=sla_stack.base_url, timeout=30) as http:
        yield Desk(sla_stack, http)


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:8]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def mails_about(smtp: SmtpServer, to: str, number: str) -> list[ReceivedMail]:
    return [m for m in smtp.received(to=to) if f"[{number}]" in m.subject]


# --- (a) Waiting on the client ----------------------------------------------------------


def test_waiting_pauses_the_resolution_clock_and_the_client_s_reply_resumes_it(
    desk: Desk, run: str
) -> None:
    category = desk.category(run)
    technician = desk.person("technician", run)
    client = desk.person("client", run)
    team = desk.always_open_team(run, category, [technician["id"]], technician["id"])
    opened = desk.call(
        "POST",
        "/api/tickets/",
        client["headers"],
        201,
        json={"title": f"VPN caída {run}", "description": "No conecta.", "category": category},
    )
    ticket_id = opened["id"]
    assert opened["team_id"] == team["id"]
    assert opened["sla"]["calendar_id"] == team["calendar_id"]
    assert opened["sla"]["resolution"]["state"] == "running"

    staff = technician["headers"]
    desk.call(
        "POST",
        f"/api/tickets/{ticket_id}/assign/",
        staff,
        json={"assignee_id": technician["id"]},
    )
    desk.move(ticket_id, "in_progress", staff)
    running_due = moment(desk.ticket(ticket_id)["sla"]["resolution"]["due_at"])
    desk.call(
        "POST",
        f"/api/tickets/{ticket_id}/comments/",
        staff,
        201,
        json={"body": "¿Desde qué red te conectas?"},
    )
    waiting = desk.move(ticket_id, "waiting", staff)
    assert waiting["status"] == "waiting"
    assert waiting["waiting_since"] is not None

    # Paused: the time left stands still while the desk waits.
    paused = desk.ticket(ticket_id)["sla"]["resolution"]
    assert paused["state"] == "paused", paused
    time.sleep(3)
    still = desk.ticket(ticket_id)["sla"]["resolution"]
    assert still["state"] == "paused", still
    assert still["business_seconds_left"] == paused["business_seconds_left"], (paused, still)
    # The first response was given (the technician's public reply), in time.
    assert desk.ticket(ticket_id)["sla"]["first_response"]["state"] == "met"

    # The client answers: back to work, the clock runs again, due later by the wait.
    desk.call(
        "POST",
        f"/api/tickets/{ticket_id}/comments/",
        client["headers"],
        201,
        json={"body": "Desde la wifi de casa."},
    )
    resumed = desk.ticket(ticket_id, client["headers"])
    assert resumed["status"] == "in_progress"
    assert resumed["waiting_since"] is None
    clock = desk.ticket(ticket_id)["sla"]["resolution"]
    assert clock["state"] == "running", clock
    moved_by = (moment(clock["due_at"]) - running_due).total_seconds()
    assert moved_by >= 2.5, f"the due time moved by {moved_by}s after a wait of over 3s"
    assert clock["business_seconds_left"] > paused["business_seconds_left"] - 5, (paused, clock)

    # The history says the client's reply moved it.
    moves = [
        (e["from"], e["to"], str(e["actor_id"]))
        for e in desk.history(ticket_id)
        if e["field"] == "status"
    ]
    assert moves[-1] == ("waiting", "in_progress", str(client["id"])), moves


# --- (b) Satisfaction -------------------------------------------------------------------


CSAT_LINK = re.compile(r"/csat/(?P<token>[A-Za-z0-9_\-:.%]+)/\?rating=(?P<rating>good|bad)")


def test_the_resolution_mail_s_rating_link_reaches_the_ticket_notifier_and_reports(
    sla_stack: SlaStack, desk: Desk, run: str
) -> None:
    category = desk.category(run)
    technician = desk.person("technician", run)
    client = desk.person("client", run)
    desk.always_open_team(run, category, [technician["id"]], technician["id"])
    title = f"El portátil no arranca {run}"
    ticket = desk.call(
        "POST",
        "/api/tickets/",
        client["headers"],
        201,
        json={"title": title, "description": "Pantalla negra.", "category": category},
    )
    number = ticket["number"]
    staff = technician["headers"]
    desk.call(
        "POST",
        f"/api/tickets/{ticket['id']}/assign/",
        staff,
        json={"assignee_id": technician["id"]},
    )
    desk.move(ticket["id"], "in_progress", staff)
    desk.move(ticket["id"], "resolved", staff)

    # The client's resolution mail asks "How did we do?" with both one-click links.
    def csat_mail() -> list[ReceivedMail]:
        return [
            m for m in mails_about(sla_stack.smtp, client["email"], number) if "/csat/" in m.text
        ]

    mail = sla_stack.eventually(csat_mail, what="the client's resolution mail")[0]
    links = {found["rating"]: found for found in CSAT_LINK.finditer(mail.text)}
    assert set(links) == {"good", "bad"}, mail.text
    assert links["good"]["token"] == links["bad"]["token"]
    assert f"{sla_stack.base_url}/csat/" in mail.text  # WEB_BASE_URL: this stack's web
    token = unquote(links["good"]["token"])
    assert token not in mail.subject
    # The token is the client's alone: nobody else's mail about the ticket carries it.
    for other in sla_stack.smtp.received():
        if other.rcpt_tos != mail.rcpt_tos:
            assert token not in other.text + other.html, other.rcpt_tos

    # Following it: the link's API, through the gateway, without signing in.
    path = f"/api/tickets/csat/{quote(token, safe=':')}/"
    with httpx.Client(base_url=sla_stack.base_url, timeout=30) as anonymous:
        shown = anonymous.get(path)
        assert shown.status_code == 200, shown.text
        assert shown.json()["ticket"] == {"number": number, "title": title}
        assert shown.json()["rating"] is None
        comment = "Tardasteis <b>tres</b> días & nadie avisó"
        answered = anonymous.post(path, json={"rating": "bad", "comment": comment})
        assert answered.status_code == 200, answered.text
        assert (answered.json()["rating"], answered.json()["comment"]) == ("bad", comment)
        assert anonymous.get(path).json()["rating"] == "bad"

    # Staff see the answer on the ticket, and so does its client.
    rating = desk.ticket(ticket["id"], staff)["rating"]
    assert (rating["rating"], rating["comment"]) == ("bad", comment)
    assert desk.ticket(ticket["id"], client["headers"])["rating"]["rating"] == "bad"

    # notifier: the assignee hears of a bad answer (ticket.rated).
    sla_stack.eventually(
        lambda: desk.feed(staff, ticket["id"], "ticket.rated"),
        what="the bad answer in the assignee's feed",
    )

    # reports: the summary's csat counts one answer, bad, of one survey.
    def csat_figures() -> dict[str, Any] | None:
        response = desk.http.get(
            "/api/reports/summary/", params={"category": category}, headers=desk.admin
        )
        if response.status_code == 400:
            return None  # the category has not reached reports yet
        assert response.status_code == 200, response.text
        figures: dict[str, Any] = response.json()["csat"]
        return figures if figures["answered"] >= 1 and figures["surveyed"] >= 1 else None

    figures = sla_stack.eventually(csat_figures, what="the answer in reports' summary")
    assert (figures["answered"], figures["good"], figures["bad"]) == (1, 0, 1), figures
    assert (figures["surveyed"], figures["responded"]) == (1, 1), figures
    assert figures["score"] == 0
    assert figures["response_rate"] == 1


# --- (c) A breach, end to end -----------------------------------------------------------


def test_a_missed_first_response_is_published_escalated_and_told(
    sla_stack: SlaStack, desk: Desk, run: str
) -> None:
    """Targets are whole hours, so a breach cannot be waited for. Instead the ticket's
    clock is made to have started three hours ago: its ``created_at`` is moved back in the
    tickets database (the one write behind the services' back). Everything else is the
    stack's own doing: the technician's next move makes tickets recompute the due times
    from that start (a one-hour first response target on the team's round-the-clock
    calendar: two hours late), the ``tickets-sla`` process finds the breach on its own,
    publishes ``ticket.sla_breached`` and applies the team's escalation rule (priority up
    by one), and notifier tells the assignee and the team's lead."""
    category = desk.category(run)
    assignee = desk.person("technician", run)
    lead = desk.person("technician", run)
    client = desk.person("client", run)
    quick = {"first_response_hours": 1, "resolution_hours": 200}
    desk.always_open_team(
        run,
        category,
        [assignee["id"], lead["id"]],
        lead["id"],
        sla_targets={"high": quick, "urgent": quick},
        escalation={"raise_priority": True, "reassign_to_lead": False},
    )

    def opened() -> dict[str, Any] | None:
        response = desk.http.post(
            "/api/tickets/",
            headers=assignee["headers"],
            json={
                "title": f"Servidor de correo caído {run}",
                "description": "Nadie recibe correo.",
                "category": category,
                "priority": "high",
                "client_id": client["id"],
            },
        )
        return response.json() if response.status_code == 201 else None

    ticket = sla_stack.eventually(opened, what="the client in tickets' directory")
    number = ticket["number"]
    staff = assignee["headers"]
    desk.call(
        "POST", f"/api/tickets/{ticket['id']}/assign/", staff, json={"assignee_id": assignee["id"]}
    )
    assert ticket["sla"]["first_response"]["state"] == "running"

    with psycopg.connect(sla_stack.stack.env["TICKETS_DATABASE_URL"], autocommit=True) as conn:
        moved = conn.execute(
            "UPDATE tickets_ticket SET created_at = created_at - interval '3 hours' WHERE id = %s",
            [ticket["id"]],
        )
        assert moved.rowcount == 1
    working = desk.move(ticket["id"], "in_progress", staff)
    first_response = working["sla"]["first_response"]
    assert first_response["state"] == "breached", first_response
    assert first_response["business_seconds_left"] < -3600, first_response
    assert working["sla"]["resolution"]["state"] == "running", working["sla"]

    # tickets-sla: the breach, once, and the escalation rule's raise (high → urgent).
    escalated = sla_stack.eventually(
        lambda: (found := desk.ticket(ticket["id"]))["priority"] == "urgent" and found,
        what="the escalation of the breached ticket",
    )
    assert str(escalated["assignee_id"]) == str(assignee["id"])  # the rule does not reassign
    raised = [e for e in desk.history(ticket["id"]) if e["field"] == "priority"]
    assert [(e["from"], e["to"], e["actor_id"]) for e in raised] == [
        ("high", "urgent", "sla:escalation")
    ], raised

    # notifier: the assignee and the lead, each in their feed and by mail, once.
    for person in (assignee, lead):
        told = sla_stack.eventually(
            lambda person=person: desk.feed(person["headers"], ticket["id"], "ticket.sla_breached"),
            what=f"the breach in {person['username']}'s feed",
        )
        assert len(told) == 1, told
        assert number in told[0]["title"], told

        def breach_mails(person: dict[str, Any] = person) -> list[ReceivedMail]:
            return [
                m
                for m in mails_about(sla_stack.smtp, person["email"], number)
                if "missed its first response target" in m.text
            ]

        mail = sla_stack.eventually(breach_mails, what=f"the breach mail to {person['email']}")
        assert "raised its priority" in mail[0].text, mail[0].text
    time.sleep(3)  # a few more passes of the watcher: still one breach each
    for person in (assignee, lead):
        assert len(desk.feed(person["headers"], ticket["id"], "ticket.sla_breached")) == 1
        assert len(breach_mails(person)) == 1
