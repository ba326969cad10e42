"""Business calendars (issue 19): admins write them, staff read them, exactly one is the
default, and the due times of open tickets move with the calendar they count in.

Time is frozen with ``frozen_at`` (``django.utils.timezone.now`` patched: every service
and the serializers read the clock through it), so due times are checked to the minute.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.utils import timezone
from tickets import calendars, services
from tickets.models import WEEKDAYS, BusinessCalendar, Priority, Status, Team, Ticket

from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db

URL = "/api/tickets/calendars/"
TEAMS_URL = "/api/tickets/teams/"
MADRID = ZoneInfo("Europe/Madrid")
AROUND_THE_CLOCK = {day: [["00:00", "24:00"]] for day in WEEKDAYS}
OFFICE = {
    "mon": [["09:00", "18:00"]],
    "tue": [["09:00", "18:00"]],
    "wed": [["09:00", "18:00"]],
    "thu": [["09:00", "18:00"]],
    "fri": [["09:00", "18:00"]],
    "sat": [],
    "sun": [],
}
HOUR = 3600


def madrid(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=MADRID)  # type: ignore[misc,arg-type]


#: Friday 4 December 2026, 17:00 in Madrid: one office hour left before the weekend.
FRIDAY_17 = madrid(2026, 12, 4, 17)


@pytest.fixture
def frozen_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """``frozen_at(moment)``: from now on the services and the API read ``moment`` as now."""

    def freeze(moment: datetime) -> None:
        fixed = moment.astimezone(UTC)
        monkeypatch.setattr(timezone, "now", lambda: fixed)

    return freeze


#: The migration that brought calendars: it makes a fresh install's default calendar.
CALENDARS_MIGRATION = importlib.import_module("tickets.migrations.0008_sla_calendars_csat")


@pytest.fixture(autouse=True)
def default_calendar(db: Any) -> BusinessCalendar:
    """The default calendar as the migration made it. A transactional test empties the
    tables, and ``--reuse-db`` keeps them so for the next run: make it again the same way."""
    if not BusinessCalendar.objects.filter(is_default=True).exists():
        CALENDARS_MIGRATION.default_calendar_and_clocks(django_apps, None)
    return BusinessCalendar.objects.get(is_default=True)


def office_body(name: str = "Oficina Madrid", **fields: Any) -> dict[str, Any]:
    return {"name": name, "time_zone": "Europe/Madrid", "week": OFFICE, **fields}


def detail(api: Api, ticket_id: int, caller: Caller) -> dict[str, Any]:
    response = api.get(f"/api/tickets/{ticket_id}/", as_=caller)
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def field_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    return response.json()["extra"]["fields"]  # type: ignore[no-any-return]


def named_fields(errors: dict[str, list[str]]) -> set[str]:
    """The top-level fields errors name (nested ones read ``sla_targets.urgent.x``)."""
    return {key.split(".")[0] for key in errors}


def messages(errors: dict[str, list[str]]) -> str:
    return " ".join(" ".join(texts) for texts in errors.values())


# --- the fresh install ------------------------------------------------------------------


def test_a_fresh_database_has_one_default_calendar_open_around_the_clock(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    # What the migration does on a fresh install (and nothing more when run again).
    BusinessCalendar.objects.all().delete()
    CALENDARS_MIGRATION.default_calendar_and_clocks(django_apps, None)
    CALENDARS_MIGRATION.default_calendar_and_clocks(django_apps, None)
    response = api.get(URL, as_=callers["technician"])
    assert response.status_code == 200, response.content
    [calendar] = response.json()
    assert calendar["is_default"] is True
    assert calendar["time_zone"] == "Europe/Madrid"
    assert calendar["week"] == AROUND_THE_CLOCK
    assert calendar["holidays"] == []
    assert set(calendar) == {
        "id",
        "name",
        "time_zone",
        "is_default",
        "week",
        "holidays",
        "updated_at",
    }

    # Targets keep meaning wall-clock hours: a Friday-evening ticket is due that night.
    ticket: Ticket = open_ticket("client", priority=Priority.HIGH)
    assert ticket.first_response_due == ticket.created_at + timedelta(hours=4)
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=24)
    assert detail(api, ticket.pk, callers["technician"])["sla"]["calendar_id"] == calendar["id"]


# --- writing calendars ------------------------------------------------------------------


def test_admins_create_read_update_and_delete_calendars(
    api: Api, callers: dict[str, Caller], default_calendar: BusinessCalendar
) -> None:
    admin = callers["admin"]
    body = {
        "name": "  Soporte   Canarias ",
        "time_zone": "Atlantic/Canary",
        # Openings out of order and days left out: stored sorted, the missing days closed.
        "week": {"mon": [["15:00", "18:00"], ["08:00", "14:00"]], "tue": [["08:00", "24:00"]]},
        "holidays": [
            {"date": "2026-12-25", "name": "  Navidad  "},
            {"date": "2026-01-01", "name": "Año nuevo"},
        ],
    }
    response = api.post(URL, body, as_=admin)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "Soporte Canarias"
    assert created["time_zone"] == "Atlantic/Canary"
    assert created["is_default"] is False
    assert created["week"] == {
        "mon": [["08:00", "14:00"], ["15:00", "18:00"]],
        "tue": [["08:00", "24:00"]],
        "wed": [],
        "thu": [],
        "fri": [],
        "sat": [],
        "sun": [],
    }
    assert created["holidays"] == [
        {"date": "2026-01-01", "name": "Año nuevo"},
        {"date": "2026-12-25", "name": "Navidad"},
    ]
    url = f"{URL}{created['id']}/"
    assert api.get(url, as_=callers["technician"]).json() == created

    listed = api.get(URL, as_=admin).json()
    assert [row["id"] for row in listed] == [default_calendar.pk, created["id"]]

    response = api.patch(url, {"name": "Canarias", "holidays": []}, as_=admin)
    assert response.status_code == 200, response.content
    updated = response.json()
    assert (updated["name"], updated["holidays"], updated["week"]) == (
        "Canarias",
        [],
        created["week"],
    )
    assert BusinessCalendar.objects.get(pk=created["id"]).name == "Canarias"

    assert api.delete(url, as_=admin).status_code == 204
    assert api.get(url, as_=admin).status_code == 404
    assert api.patch(url, {"name": "x"}, as_=admin).status_code == 404
    assert api.delete(url, as_=admin).status_code == 404
    assert list(BusinessCalendar.objects.values_list("pk", flat=True)) == [default_calendar.pk]


def test_technicians_read_clients_get_403_and_strangers_401(
    api: Api, callers: dict[str, Caller], default_calendar: BusinessCalendar
) -> None:
    url = f"{URL}{default_calendar.pk}/"
    technician, client = callers["technician"], callers["client"]
    assert api.get(URL, as_=technician).status_code == 200
    assert api.get(url, as_=technician).status_code == 200
    assert api.post(URL, office_body(), as_=technician).status_code == 403
    assert api.patch(url, {"name": "Mío"}, as_=technician).status_code == 403
    assert api.delete(url, as_=technician).status_code == 403
    refused = [
        api.get(URL, as_=client),
        api.get(url, as_=client),
        api.post(URL, office_body(), as_=client),
        api.patch(url, {"name": "Mío"}, as_=client),
        api.delete(url, as_=client),
    ]
    assert [response.status_code for response in refused] == [403] * 5
    assert api.get(URL).status_code == 401
    assert api.post(URL, office_body()).status_code == 401
    assert BusinessCalendar.objects.count() == 1
    assert BusinessCalendar.objects.get().name == default_calendar.name


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"week": {**OFFICE, "fun": [["09:00", "10:00"]]}}, "week", "Unknown days: fun"),
        ({"week": {"mon": [["9:00", "18:00"]]}}, "week", "HH:MM"),
        ({"week": {"mon": [["09:00", "18:60"]]}}, "week", "HH:MM"),
        ({"week": {"mon": [["09:00", "24:01"]]}}, "week", "HH:MM"),
        ({"week": {"mon": [[9, 18]]}}, "week", "HH:MM"),
        ({"week": {"mon": [["18:00", "09:00"]]}}, "week", "must end after it starts"),
        ({"week": {"mon": [["09:00", "09:00"]]}}, "week", "must end after it starts"),
        ({"week": {"mon": [["09:00", "14:00"], ["13:00", "18:00"]]}}, "week", "overlap"),
        ({"week": {"mon": [["09:00"]]}}, "week", "[start, end]"),
        ({"week": {"mon": "09:00-18:00"}}, "week", "list"),
        ({"week": {day: [] for day in OFFICE}}, "week", "open at some time"),
        ({"week": {}}, "week", "open at some time"),
        ({"week": ["mon"]}, "week", "mon to sun"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone", "not a known time zone"),
        ({"time_zone": "Europe/Madrid\x00"}, "time_zone", "U+0000"),
        ({"time_zone": ""}, "time_zone", ""),
        ({"name": "Oficina\x00"}, "name", "U+0000"),
        ({"name": "   "}, "name", ""),
        ({"holidays": [{"date": "2026-02-30", "name": "Nope"}]}, "holidays", "not a date"),
        ({"holidays": [{"date": "25/12/2026", "name": "Navidad"}]}, "holidays", "not a date"),
        ({"holidays": [{"name": "Navidad"}]}, "holidays", "YYYY-MM-DD"),
        (
            {"holidays": [{"date": "2026-12-25", "name": "a"}, {"date": "2026-12-25"}]},
            "holidays",
            "2026-12-25 is listed twice",
        ),
        ({"holidays": [{"date": "2026-12-25", "name": "x" * 101}]}, "holidays", "100 characters"),
        ({"holidays": [{"date": "2026-12-25", "name": "N\x00"}]}, "holidays", "text"),
        ({"holidays": {"date": "2026-12-25"}}, "holidays", "list"),
        ({"holidays": "2026-12-25"}, "holidays", "list"),
        (
            {"holidays": [{"date": "2026-01-01", "name": str(n)} for n in range(201)]},
            "holidays",
            "at most 200",
        ),
    ],
)
def test_a_bad_calendar_is_a_400_naming_the_field_and_saying_why(
    api: Api, callers: dict[str, Caller], changes: dict[str, Any], field: str, says: str
) -> None:
    before = list(BusinessCalendar.objects.values_list("pk", "name", "week"))
    errors = field_errors(api.post(URL, office_body(**changes), as_=callers["admin"]))
    assert named_fields(errors) == {field}
    assert says in messages(errors)
    # The same through PATCH on an existing calendar.
    calendar = BusinessCalendar.objects.get(is_default=True)
    patched = api.patch(f"{URL}{calendar.pk}/", changes, as_=callers["admin"])
    assert named_fields(field_errors(patched)) == {field}
    assert list(BusinessCalendar.objects.values_list("pk", "name", "week")) == before


def test_the_week_needs_and_the_name_is_unique(api: Api, callers: dict[str, Caller]) -> None:
    admin = callers["admin"]
    body = office_body()
    del body["week"]
    assert "week" in field_errors(api.post(URL, body, as_=admin))
    assert api.post(URL, office_body("Oficina"), as_=admin).status_code == 201
    errors = field_errors(api.post(URL, office_body(" OFICINA "), as_=admin))
    assert list(errors) == ["name"]
    assert "already exists" in errors["name"][0]


def test_the_time_zone_defaults_to_madrid_and_24_00_ends_a_day(
    api: Api, callers: dict[str, Caller]
) -> None:
    body = {"name": "Noches", "week": {"fri": [["20:00", "24:00"]], "sat": [["00:00", "06:00"]]}}
    response = api.post(URL, body, as_=callers["admin"])
    assert response.status_code == 201, response.content
    assert response.json()["time_zone"] == "Europe/Madrid"
    assert response.json()["week"]["fri"] == [["20:00", "24:00"]]
    assert response.json()["holidays"] == []


# --- exactly one default ------------------------------------------------------------------


def test_making_another_calendar_the_default_unmarks_the_old_one(
    api: Api, callers: dict[str, Caller], default_calendar: BusinessCalendar
) -> None:
    admin = callers["admin"]
    office = api.post(URL, office_body(is_default=True), as_=admin).json()
    assert office["is_default"] is True
    default_calendar.refresh_from_db()
    assert default_calendar.is_default is False
    assert list(BusinessCalendar.objects.filter(is_default=True).values_list("pk", flat=True)) == [
        office["id"]
    ]

    # And back, by PATCH.
    response = api.patch(f"{URL}{default_calendar.pk}/", {"is_default": True}, as_=admin)
    assert response.status_code == 200, response.content
    assert response.json()["is_default"] is True
    assert api.get(f"{URL}{office['id']}/", as_=admin).json()["is_default"] is False
    assert BusinessCalendar.objects.filter(is_default=True).count() == 1
    # The default comes first in the list.
    assert api.get(URL, as_=admin).json()[0]["id"] == default_calendar.pk


def test_the_default_cannot_be_unmarked_or_deleted(
    api: Api, callers: dict[str, Caller], default_calendar: BusinessCalendar
) -> None:
    admin = callers["admin"]
    url = f"{URL}{default_calendar.pk}/"
    errors = field_errors(api.patch(url, {"is_default": False}, as_=admin))
    assert list(errors) == ["is_default"]
    assert "another calendar the default" in errors["is_default"][0]

    response = api.delete(url, as_=admin)
    assert response.status_code == 409, response.content
    assert response.json()["extra"]["code"] == "default_calendar"
    default_calendar.refresh_from_db()
    assert default_calendar.is_default is True

    # A calendar that is not the default may say so.
    other = api.post(URL, office_body(), as_=admin).json()
    response = api.patch(f"{URL}{other['id']}/", {"is_default": False}, as_=admin)
    assert response.status_code == 200, response.content
    assert BusinessCalendar.objects.filter(is_default=True).get().pk == default_calendar.pk


# --- due times in business time -------------------------------------------------------------


def test_office_hours_on_the_default_move_open_tickets_and_leave_resolved_ones(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
    default_calendar: BusinessCalendar,
) -> None:
    frozen_at(FRIDAY_17)
    waiting: Ticket = open_ticket("client", priority=Priority.HIGH)
    done: Ticket = open_ticket("client", priority=Priority.HIGH)
    technician = callers["technician"].actor
    for status in (Status.IN_PROGRESS, Status.RESOLVED):
        services.ticket_change_status(ticket_id=done.pk, actor=technician, status=status)
    done.refresh_from_db()
    # Around the clock: 4 and 24 wall-clock hours.
    assert waiting.first_response_due == madrid(2026, 12, 4, 21)
    assert waiting.resolution_due == madrid(2026, 12, 5, 17)
    resolved_dues = (done.first_response_due, done.resolution_due)
    assert resolved_dues == (madrid(2026, 12, 4, 21), madrid(2026, 12, 5, 17))

    frozen_at(madrid(2026, 12, 5, 12))  # Saturday noon: the office is closed
    response = api.patch(f"{URL}{default_calendar.pk}/", {"week": OFFICE}, as_=callers["admin"])
    assert response.status_code == 200, response.content

    waiting.refresh_from_db()
    # One hour on Friday, three on Monday morning.
    assert waiting.first_response_due == madrid(2026, 12, 7, 12)
    # 24 business hours: 1 on Friday, 9 on Monday, 9 on Tuesday, 5 on Wednesday.
    assert waiting.resolution_due == madrid(2026, 12, 9, 14)
    done.refresh_from_db()
    assert (done.first_response_due, done.resolution_due) == resolved_dues

    sla = detail(api, waiting.pk, callers["technician"])["sla"]
    assert sla["calendar_id"] == default_calendar.pk
    assert sla["first_response"] == {
        "due_at": "2026-12-07T11:00:00Z",
        "state": "running",
        "business_seconds_left": 3 * HOUR,  # the weekend does not count
    }
    assert sla["resolution"] == {
        "due_at": "2026-12-09T13:00:00Z",
        "state": "running",
        "business_seconds_left": 23 * HOUR,
    }
    # The list shows the moved due times too.
    rows = api.get("/api/tickets/", as_=callers["technician"]).json()["results"]
    assert {row["id"]: row["first_response_due"] for row in rows}[waiting.pk] == (
        "2026-12-07T11:00:00Z"
    )

    # Monday 11:00: one business hour left of the first response.
    frozen_at(madrid(2026, 12, 7, 11))
    sla = detail(api, waiting.pk, callers["client"])["sla"]
    assert sla["first_response"]["business_seconds_left"] == HOUR
    assert sla["resolution"]["business_seconds_left"] == 21 * HOUR
    # Monday 19:00, after hours: late by the six business hours from 12:00 to 18:00.
    frozen_at(madrid(2026, 12, 7, 19))
    sla = detail(api, waiting.pk, callers["technician"])["sla"]
    assert sla["first_response"]["state"] == "breached"
    assert sla["first_response"]["business_seconds_left"] == -6 * HOUR
    assert sla["resolution"]["state"] == "running"
    assert sla["resolution"]["business_seconds_left"] == 14 * HOUR


def test_a_new_default_calendar_takes_over_the_open_tickets(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
) -> None:
    frozen_at(FRIDAY_17)
    ticket: Ticket = open_ticket("client", priority=Priority.HIGH)
    response = api.post(URL, office_body(is_default=True), as_=callers["admin"])
    assert response.status_code == 201, response.content
    ticket.refresh_from_db()
    assert ticket.first_response_due == madrid(2026, 12, 7, 12)
    assert (
        detail(api, ticket.pk, callers["technician"])["sla"]["calendar_id"]
        == (response.json()["id"])
    )


def test_holidays_and_the_time_zone_of_the_calendar_count(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
    default_calendar: BusinessCalendar,
) -> None:
    frozen_at(FRIDAY_17)
    ticket: Ticket = open_ticket("client", priority=Priority.HIGH)
    body = {"week": OFFICE, "holidays": [{"date": "2026-12-07", "name": "Puente"}]}
    assert api.patch(f"{URL}{default_calendar.pk}/", body, as_=callers["admin"]).status_code == 200
    ticket.refresh_from_db()
    # Monday is a holiday: Friday's hour, then three on Tuesday.
    assert ticket.first_response_due == madrid(2026, 12, 8, 12)

    # The same hours in London (UTC+0 in December): Friday 17:00 Madrid is 16:00 there,
    # two hours left on Friday, two on Monday from 9:00 London (10:00 Madrid).
    body = {"time_zone": "Europe/London", "holidays": []}
    assert api.patch(f"{URL}{default_calendar.pk}/", body, as_=callers["admin"]).status_code == 200
    ticket.refresh_from_db()
    assert ticket.first_response_due == madrid(2026, 12, 7, 12)
    assert ticket.first_response_due == datetime(2026, 12, 7, 11, tzinfo=UTC)


def test_a_team_calendar_applies_to_that_teams_tickets_only(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
    default_calendar: BusinessCalendar,
) -> None:
    admin = callers["admin"]
    office = api.post(URL, office_body(), as_=admin).json()
    response = api.post(
        TEAMS_URL,
        {"name": "Redes", "member_ids": [21], "calendar_id": office["id"]},
        as_=admin,
    )
    assert response.status_code == 201, response.content
    team = Team.objects.get(pk=response.json()["id"])
    assert response.json()["calendar_id"] == office["id"]

    frozen_at(FRIDAY_17)
    staff = callers["technician"]
    in_team: Ticket = open_ticket("technician", client_id="11", priority=Priority.HIGH, team=team)
    outside: Ticket = open_ticket("technician", client_id="11", priority=Priority.HIGH)
    assert in_team.team_id == team.pk
    assert in_team.first_response_due == madrid(2026, 12, 7, 12)
    assert outside.first_response_due == madrid(2026, 12, 4, 21)
    assert detail(api, in_team.pk, staff)["sla"]["calendar_id"] == office["id"]
    assert detail(api, outside.pk, staff)["sla"]["calendar_id"] == default_calendar.pk

    # Editing the team's calendar moves its tickets only.
    week = {**OFFICE, "fri": [["09:00", "17:30"]]}
    assert api.patch(f"{URL}{office['id']}/", {"week": week}, as_=admin).status_code == 200
    in_team.refresh_from_db()
    outside.refresh_from_db()
    # Friday 17:00 to 17:30 then 3.5 h on Monday.
    assert in_team.first_response_due == madrid(2026, 12, 7, 12, 30)
    assert outside.first_response_due == madrid(2026, 12, 4, 21)

    # Deleting it: the team falls back to the default, and its tickets with it.
    assert api.delete(f"{URL}{office['id']}/", as_=admin).status_code == 204
    team.refresh_from_db()
    assert team.calendar_id is None
    assert api.get(f"{TEAMS_URL}{team.pk}/", as_=admin).json()["calendar_id"] is None
    in_team.refresh_from_db()
    assert in_team.first_response_due == madrid(2026, 12, 4, 21)
    assert detail(api, in_team.pk, staff)["sla"]["calendar_id"] == default_calendar.pk


def test_a_team_moved_to_another_calendar_moves_its_open_tickets(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
) -> None:
    admin = callers["admin"]
    office = api.post(URL, office_body(), as_=admin).json()
    team = api.post(TEAMS_URL, {"name": "Redes", "member_ids": [21]}, as_=admin).json()
    frozen_at(FRIDAY_17)
    ticket: Ticket = open_ticket(
        "technician",
        client_id="11",
        priority=Priority.HIGH,
        team=Team.objects.get(pk=team["id"]),
    )
    assert ticket.first_response_due == madrid(2026, 12, 4, 21)
    response = api.patch(f"{TEAMS_URL}{team['id']}/", {"calendar_id": office["id"]}, as_=admin)
    assert response.status_code == 200, response.content
    assert response.json()["calendar_id"] == office["id"]
    ticket.refresh_from_db()
    assert ticket.first_response_due == madrid(2026, 12, 7, 12)

    errors = field_errors(
        api.patch(f"{TEAMS_URL}{team['id']}/", {"calendar_id": 999999}, as_=admin)
    )
    assert named_fields(errors) == {"calendar_id"}
    response = api.patch(f"{TEAMS_URL}{team['id']}/", {"calendar_id": None}, as_=admin)
    assert response.json()["calendar_id"] is None
    ticket.refresh_from_db()
    assert ticket.first_response_due == madrid(2026, 12, 4, 21)


# --- a team's targets and escalation rule -----------------------------------------------------


def test_team_sla_targets_and_escalation_through_the_api(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    admin = callers["admin"]
    body = {
        "name": "Urgencias",
        "member_ids": [21],
        "lead_id": 21,
        "sla_targets": {"urgent": {"first_response_hours": 1, "resolution_hours": 2}},
        "escalation": {"raise_priority": True, "reassign_to_lead": True},
    }
    response = api.post(TEAMS_URL, body, as_=admin)
    assert response.status_code == 201, response.content
    team = response.json()
    assert team["sla_targets"] == body["sla_targets"]
    assert team["escalation"] == {"raise_priority": True, "reassign_to_lead": True}
    stored = Team.objects.get(pk=team["id"])
    assert (stored.escalate_raise_priority, stored.escalate_to_lead) == (True, True)

    # Its new urgent tickets count its targets; its other priorities and other teams the
    # desk's (urgent: 1 h / 4 h by default).
    ticket: Ticket = open_ticket(
        "technician", client_id="11", priority=Priority.URGENT, team=stored
    )
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=2)
    assert ticket.first_response_due == ticket.created_at + timedelta(hours=1)
    high: Ticket = open_ticket("technician", client_id="11", priority=Priority.HIGH, team=stored)
    assert high.resolution_due == high.created_at + timedelta(hours=24)
    other: Ticket = open_ticket("technician", client_id="11", priority=Priority.URGENT)
    assert other.resolution_due == other.created_at + timedelta(hours=4)

    # Changed targets move its open tickets (and only its).
    url = f"{TEAMS_URL}{team['id']}/"
    targets = {
        "urgent": {"first_response_hours": 2, "resolution_hours": 3},
        "high": {"first_response_hours": 5, "resolution_hours": 10},
    }
    response = api.patch(url, {"sla_targets": targets}, as_=admin)
    assert response.status_code == 200, response.content
    assert response.json()["sla_targets"] == targets
    assert list(response.json()["sla_targets"]) == ["urgent", "high"]
    ticket.refresh_from_db()
    high.refresh_from_db()
    other.refresh_from_db()
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=3)
    assert ticket.first_response_due == ticket.created_at + timedelta(hours=2)
    assert high.resolution_due == high.created_at + timedelta(hours=10)
    assert other.resolution_due == other.created_at + timedelta(hours=4)

    # {} goes back to the desk's targets; a PATCH of one flag leaves the other as it was.
    response = api.patch(
        url, {"sla_targets": {}, "escalation": {"raise_priority": False}}, as_=admin
    )
    assert response.status_code == 200, response.content
    assert response.json()["sla_targets"] == {}
    assert response.json()["escalation"] == {"raise_priority": False, "reassign_to_lead": True}
    stored.refresh_from_db()
    assert (stored.escalate_raise_priority, stored.escalate_to_lead) == (False, True)
    ticket.refresh_from_db()
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=4)
    # The desk's own targets list is unchanged by a team's.
    desk = api.get("/api/tickets/sla-targets/", as_=admin).json()
    assert {row["priority"]: row["resolution_hours"] for row in desk}["urgent"] == 4


def test_a_resolved_ticket_keeps_its_due_times_when_its_teams_targets_change(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    admin = callers["admin"]
    team = api.post(TEAMS_URL, {"name": "Redes", "member_ids": [21]}, as_=admin).json()
    ticket: Ticket = open_ticket(
        "technician", client_id="11", priority=Priority.URGENT, team=Team.objects.get(pk=team["id"])
    )
    for status in (Status.IN_PROGRESS, Status.RESOLVED):
        services.ticket_change_status(
            ticket_id=ticket.pk, actor=callers["technician"].actor, status=status
        )
    ticket.refresh_from_db()
    due = ticket.resolution_due
    targets = {"urgent": {"first_response_hours": 1, "resolution_hours": 2}}
    response = api.patch(f"{TEAMS_URL}{team['id']}/", {"sla_targets": targets}, as_=admin)
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert ticket.resolution_due == due


def test_deleting_a_team_moves_its_open_tickets_to_the_desks_targets_and_calendar(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    frozen_at: Callable[[datetime], None],
) -> None:
    admin = callers["admin"]
    office = api.post(URL, office_body(), as_=admin).json()
    body = {
        "name": "Urgencias",
        "member_ids": [21],
        "calendar_id": office["id"],
        "sla_targets": {"high": {"first_response_hours": 2, "resolution_hours": 3}},
    }
    team = api.post(TEAMS_URL, body, as_=admin).json()
    frozen_at(FRIDAY_17)
    ticket: Ticket = open_ticket(
        "technician", client_id="11", priority=Priority.HIGH, team=Team.objects.get(pk=team["id"])
    )
    # Two business hours: one on Friday, one on Monday.
    assert ticket.first_response_due == madrid(2026, 12, 7, 10)
    assert api.delete(f"{TEAMS_URL}{team['id']}/", as_=admin).status_code == 204
    ticket.refresh_from_db()
    assert ticket.team_id is None
    # The desk's 4 h around the clock.
    assert ticket.first_response_due == madrid(2026, 12, 4, 21)


@pytest.mark.parametrize(
    ("sla_targets", "says"),
    [
        ({"critical": {"first_response_hours": 1, "resolution_hours": 2}}, "Unknown priorities"),
        ({"urgent": {"first_response_hours": 4, "resolution_hours": 2}}, "before the first"),
        ({"urgent": {"first_response_hours": 0, "resolution_hours": 2}}, ""),
        ({"urgent": {"first_response_hours": 1}}, ""),
        ({"urgent": {"first_response_hours": "one", "resolution_hours": 2}}, ""),
        ({"urgent": 4}, ""),
        (["urgent"], ""),
    ],
)
def test_bad_team_targets_are_a_400_on_sla_targets(
    api: Api, callers: dict[str, Caller], sla_targets: Any, says: str
) -> None:
    body = {"name": "Redes", "member_ids": [21], "sla_targets": sla_targets}
    errors = field_errors(api.post(TEAMS_URL, body, as_=callers["admin"]))
    assert named_fields(errors) == {"sla_targets"}
    assert says in messages(errors)
    assert not Team.objects.exists()


def test_bad_escalation_is_a_400(api: Api, callers: dict[str, Caller]) -> None:
    body = {"name": "Redes", "member_ids": [21], "escalation": {"raise_priority": "often"}}
    errors = field_errors(api.post(TEAMS_URL, body, as_=callers["admin"]))
    assert named_fields(errors) == {"escalation"}


# --- two admins at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_calendars_made_the_default_at_once_leave_exactly_one_default(
    default_calendar: BusinessCalendar,
) -> None:
    """Each admin's change unmarks the default it sees; lined up behind a lock on the old
    default, the second must still see the first's new one (no unique-index error)."""
    first = calendars.calendar_create(
        name="Primero", time_zone="Europe/Madrid", week=OFFICE, holidays=[]
    )
    second = calendars.calendar_create(
        name="Segundo", time_zone="Europe/Madrid", week=OFFICE, holidays=[]
    )
    started = threading.Barrier(3)

    def make_default(calendar_id: int) -> str:
        try:
            started.wait()
            calendars.calendar_update(calendar_id=calendar_id, changes={"is_default": True})
            return "ok"
        except Exception as exc:
            return type(exc).__name__
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        with transaction.atomic():
            # Hold the old default so both writers queue behind it.
            list(BusinessCalendar.objects.select_for_update().filter(pk=default_calendar.pk))
            futures = [pool.submit(make_default, pk) for pk in (first.pk, second.pk)]
            started.wait()
            time.sleep(0.3)
        outcomes = [future.result() for future in futures]
    assert outcomes == ["ok", "ok"]
    defaults = list(BusinessCalendar.objects.filter(is_default=True).values_list("pk", flat=True))
    assert len(defaults) == 1
    assert defaults[0] in (first.pk, second.pk)
