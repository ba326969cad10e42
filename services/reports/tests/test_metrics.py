"""The report's figures against an independent oracle over a known data set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import override
from reports import metrics
from reports.metrics import ReportQuery, compute_report, local_midnight

from servidesk_shared.events import schemas
from tests.dataset import (
    ANA,
    BRUNO,
    FIRST_LINE,
    NAMELESS,
    NETWORK,
    TEMPORARY,
    UNNAMED_TEAM,
    csat_technician,
    expected,
)
from tests.desk import Desk, at

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def report(date_from: date, date_to: date, **filters: Any) -> dict[str, Any]:
    query = ReportQuery(
        date_from=date_from,
        date_to=date_to,
        time_zone=MADRID,
        now=filters.pop("now", NOW),
        **filters,
    )
    return compute_report(query).summary


def assert_matches(summary: dict[str, Any], oracle: dict[str, Any]) -> None:
    assert summary["totals"] == oracle["totals"]
    assert {row["status"]: row["count"] for row in summary["by_status"]} == oracle["by_status"]
    assert {row["priority"]: row["count"] for row in summary["by_priority"]} == oracle[
        "by_priority"
    ]
    assert {row["category"]: row["count"] for row in summary["by_category"]} == oracle[
        "by_category"
    ]
    for block in ("first_response", "resolution"):
        mine = {
            key: summary[block][key] for key in ("count", "mean_hours", "median_hours", "p90_hours")
        }
        theirs = {key: oracle[block][key] for key in mine}
        assert mine == pytest.approx(theirs, abs=0.011), block
        assert summary[block]["sla"] == oracle[block]["sla"], block
    assert summary["reopen_rate"] == oracle["reopen_rate"]
    assert summary["activity"]["backlog_start"] == oracle["backlog_start"]
    if summary["period"]["interval"] == "day":
        assert summary["timeline"] == oracle["timeline"]
    technicians = {
        row["assignee_id"]: {
            key: row[key]
            for key in (
                "assigned",
                "resolved",
                "open",
                "reopened",
                "median_resolution_hours",
                "median_first_response_hours",
            )
        }
        for row in summary["technicians"]
    }
    assert technicians == oracle["technicians"]
    teams = {
        row["team_id"]: {key: row[key] for key in ("tickets", *TEAM_FIGURES)}
        for row in summary["by_team"]
    }
    oracle_teams = {
        team_id: {**figures, "mean_resolution_hours": None}
        for team_id, figures in oracle["by_team"].items()
    }
    assert {
        team_id: {**figures, "mean_resolution_hours": None} for team_id, figures in teams.items()
    } == oracle_teams
    for team_id, figures in teams.items():
        assert figures["mean_resolution_hours"] == pytest.approx(
            oracle["by_team"][team_id]["mean_resolution_hours"], abs=0.011
        ), team_id
    assert [(row["tag"], row["count"]) for row in summary["by_tag"]] == oracle["by_tag"]
    assert_csat_matches(summary, oracle)


CSAT_FIGURES = ("answered", "good", "bad", "score", "surveyed", "responded", "response_rate")


def assert_csat_matches(summary: dict[str, Any], oracle: dict[str, Any]) -> None:
    mine, theirs = summary["csat"], oracle["csat"]
    assert {key: mine[key] for key in CSAT_FIGURES} == {key: theirs[key] for key in CSAT_FIGURES}
    for name, key in (
        ("by_technician", "assignee_id"),
        ("by_team", "team_id"),
        ("by_category", "category"),
    ):
        rows = {row[key]: {k: row[k] for k in CSAT_FIGURES} for row in mine[name]}
        assert rows == theirs[name], name
    if summary["period"]["interval"] == "day":
        assert mine["timeline"] == theirs["timeline"]


def csat_keep_for(filters: dict[str, Any], keep: Any) -> Any:
    """The oracle's rule for satisfaction: the technician filter means the technician a
    ticket's satisfaction counts for (the only filter given in those cases)."""
    if "assignee_id" not in filters:
        return keep
    wanted = None if filters["assignee_id"] == "none" else int(filters["assignee_id"])
    return lambda t: csat_technician(t) == wanted


TEAM_FIGURES = (
    "by_status",
    "open",
    "resolved",
    "reopened",
    "breached",
    "mean_resolution_hours",
    "first_response_sla_compliance",
    "resolution_sla_compliance",
)


@pytest.mark.django_db
class TestAgainstTheOracle:
    def test_march(self, desk: Desk) -> None:
        summary = report(date(2025, 3, 1), date(2025, 3, 31))
        oracle = expected(desk, date(2025, 3, 1), date(2025, 3, 31), now=NOW).summary
        assert_matches(summary, oracle)
        # Spot checks, so the oracle itself is kept honest.
        assert summary["totals"]["created"] == 8
        assert summary["activity"]["backlog_start"] == 2
        assert summary["reopen_rate"] == round(2 / 6, 4)  # 6 ever resolved, 2 reopened
        assert summary["first_response"]["sla"] == {
            "met": 4,
            "breached": 2,
            "pending": 1,
            "compliance": round(4 / 6, 4),
        }

    def test_the_spring_dst_day_is_23_hours_and_counts_local_dates(self, desk: Desk) -> None:
        day = date(2025, 3, 30)
        assert local_midnight(day, MADRID) == datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
        assert local_midnight(date(2025, 3, 31), MADRID) == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
        summary = report(day, day)
        assert_matches(summary, expected(desk, day, day, now=NOW).summary)
        # 00:30 local on the 30th is the 29th in UTC: in. 00:15 on the 31st is the 30th in
        # UTC: out. The ticket created at 23:30 on the 29th is not in the cohort either.
        assert summary["totals"]["created"] == 1
        assert summary["timeline"] == [
            {"date": "2025-03-30", "created": 1, "resolved": 1, "reopened": 0, "backlog": 2}
        ]

    def test_response_across_the_spring_change_counts_real_hours(self, desk: Desk) -> None:
        # Created 23:30 CET, answered 03:30 CEST: 4 wall-clock hours, 3 real ones.
        summary = report(date(2025, 3, 29), date(2025, 3, 29))
        assert summary["first_response"]["median_hours"] == 3.0
        assert summary["resolution"]["median_hours"] == 3.5

    def test_the_autumn_dst_day_is_25_hours(self, desk: Desk) -> None:
        day = date(2025, 10, 26)
        assert local_midnight(day, MADRID) == datetime(2025, 10, 25, 22, 0, tzinfo=UTC)
        assert local_midnight(date(2025, 10, 27), MADRID) == datetime(
            2025, 10, 26, 23, 0, tzinfo=UTC
        )
        summary = report(day, day)
        assert_matches(summary, expected(desk, day, day, now=NOW).summary)
        assert summary["totals"]["created"] == 3  # both 02:30s and 23:30; not 00:10 on the 27th
        # Resolved at the second 02:15, 45 real minutes after the first 02:30.
        assert summary["resolution"]["median_hours"] == 0.75

    def test_reopened_tickets(self, desk: Desk) -> None:
        summary = report(date(2025, 3, 15), date(2025, 3, 19))
        assert_matches(
            summary, expected(desk, date(2025, 3, 15), date(2025, 3, 19), now=NOW).summary
        )
        assert summary["totals"]["reopened"] == 1
        # Resolution time runs to the last resolution: 15th 12:00 to 19th 12:00.
        assert summary["resolution"]["median_hours"] == 96.0
        reopened_day = next(row for row in summary["timeline"] if row["date"] == "2025-03-18")
        assert reopened_day["reopened"] == 1

    def test_a_ticket_reopened_after_the_period_is_open_now(self, desk: Desk) -> None:
        summary = report(date(2025, 3, 31), date(2025, 3, 31))
        assert_matches(
            summary, expected(desk, date(2025, 3, 31), date(2025, 3, 31), now=NOW).summary
        )
        by_status = {row["status"]: row["count"] for row in summary["by_status"]}
        assert by_status["in_progress"] == 1
        # It was resolved on the 31st: the timeline keeps that resolution.
        assert summary["timeline"][0]["resolved"] == 1

    @pytest.mark.parametrize(
        ("filters", "keep"),
        [
            ({"category": "network"}, lambda t: t.category == "network"),
            ({"category": "email"}, lambda t: t.category == "email"),
            ({"priority": "high"}, lambda t: t.priority == "high"),
            ({"status": "resolved"}, lambda t: t.status == "resolved"),
            ({"status": "pending"}, lambda t: t.status == "pending"),
            ({"assignee_id": str(ANA)}, lambda t: t.assignee_id == ANA),
            ({"assignee_id": str(BRUNO)}, lambda t: t.assignee_id == BRUNO),
            ({"assignee_id": "none"}, lambda t: t.assignee_id is None),
            (
                {"category": "network", "priority": "low"},
                lambda t: t.category == "network" and t.priority == "low",
            ),
            ({"team_id": str(FIRST_LINE)}, lambda t: t.team_id == FIRST_LINE),
            ({"team_id": str(NETWORK)}, lambda t: t.team_id == NETWORK),
            ({"team_id": str(TEMPORARY)}, lambda t: t.team_id == TEMPORARY),  # deleted since
            ({"team_id": "none"}, lambda t: t.team_id is None),
            ({"tags": ("vip",)}, lambda t: "vip" in t.tags),
            ({"tags": ("vip", "correo")}, lambda t: {"vip", "correo"} <= set(t.tags)),
            ({"tags": ("router", "vip")}, lambda t: {"router", "vip"} <= set(t.tags)),
            (
                {"team_id": str(FIRST_LINE), "tags": ("vip",)},
                lambda t: t.team_id == FIRST_LINE and "vip" in t.tags,
            ),
        ],
        ids=lambda value: "-".join(map(str, value.values())) if isinstance(value, dict) else "",
    )
    def test_filters(self, desk: Desk, filters: dict[str, str], keep: Any) -> None:
        summary = report(date(2025, 2, 1), date(2025, 4, 30), interval="day", **filters)
        oracle = expected(
            desk,
            date(2025, 2, 1),
            date(2025, 4, 30),
            now=NOW,
            keep=keep,
            csat_keep=csat_keep_for(filters, keep),
        ).summary
        assert_matches(summary, oracle)
        given = {key: value for key, value in filters.items() if key != "tags"}
        assert summary["filters"] == {
            "category": None,
            "priority": None,
            "assignee_id": None,
            "status": None,
            "team_id": None,
            **given,
            "tag": list(filters.get("tags", ())),
        }

    def test_weekly_buckets_add_up_the_days(self, desk: Desk) -> None:
        summary = report(date(2025, 3, 1), date(2025, 3, 31), interval="week")
        daily = expected(desk, date(2025, 3, 1), date(2025, 3, 31), now=NOW).summary["timeline"]
        # 1 March 2025 is a Saturday: the first bucket is that partial week.
        starts = [row["date"] for row in summary["timeline"]]
        assert starts == [
            "2025-03-01",
            "2025-03-03",
            "2025-03-10",
            "2025-03-17",
            "2025-03-24",
            "2025-03-31",
        ]
        for index, row in enumerate(summary["timeline"]):
            end = starts[index + 1] if index + 1 < len(starts) else "9999"
            days = [d for d in daily if row["date"] <= d["date"] < end]
            for key in ("created", "resolved", "reopened"):
                assert row[key] == sum(d[key] for d in days), (row, key)
            assert row["backlog"] == days[-1]["backlog"]

    def test_long_periods_default_to_weeks(self, desk: Desk) -> None:
        assert report(date(2025, 1, 1), date(2025, 4, 2))["period"]["interval"] == "day"
        assert report(date(2025, 1, 1), date(2025, 4, 3))["period"]["interval"] == "week"

    def test_backlog_identity(self, desk: Desk) -> None:
        summary = report(date(2025, 2, 1), date(2025, 11, 30), interval="day")
        backlog = summary["activity"]["backlog_start"]
        for row in summary["timeline"]:
            backlog += row["created"] + row["reopened"] - row["resolved"]
            assert row["backlog"] == backlog
        assert backlog == summary["activity"]["backlog_end"]

    def test_technician_names_and_sla_per_technician(self, desk: Desk) -> None:
        rows = {
            row["assignee_id"]: row
            for row in report(date(2025, 3, 1), date(2025, 3, 31))["technicians"]
        }
        assert rows[str(ANA)]["name"] == "Ana Pérez"
        assert rows[str(NAMELESS)]["name"] == f"#{NAMELESS}"  # no user event for them
        assert rows[str(BRUNO)]["first_response_sla_compliance"] == 0.5  # one late, one on time
        assert rows[str(BRUNO)]["resolution_sla_compliance"] == 0.5
        # Sorted by name.
        assert [row["name"] for row in rows.values()] == sorted(
            (row["name"] for row in rows.values()), key=str.casefold
        )

    def test_teams_have_their_names_leads_and_figures(self, desk: Desk) -> None:
        with override("en"):
            summary = report(date(2025, 3, 1), date(2025, 3, 31))
        rows = summary["by_team"]
        # By name, then "no team" last; a team no event named shows its id.
        assert [(row["team_id"], row["name"]) for row in rows] == [
            (str(UNNAMED_TEAM), f"#{UNNAMED_TEAM}"),
            (str(FIRST_LINE), "Primer nivel"),
            (str(NETWORK), "Redes y comunicaciones"),  # the newest card's name
            (str(TEMPORARY), "Temporal"),
            (None, "No team"),
        ]
        first_line = rows[1]
        assert first_line["lead_id"] == str(ANA)
        assert first_line["lead_name"] == "Ana Pérez"
        assert first_line["members"] == 2
        assert first_line["deleted"] is False
        assert first_line["by_status"] == {
            "pending": 0,
            "in_progress": 0,
            "waiting": 0,
            "resolved": 2,
            "closed": 0,
        }
        # 8 h and 96 h (the reopened one, to its last resolution).
        assert first_line["mean_resolution_hours"] == 52.0
        temporary = rows[3]
        assert (temporary["deleted"], temporary["tickets"]) == (True, 1)
        assert rows[0]["lead_id"] is None
        assert rows[0]["members"] is None
        # Never answered: both SLAs breached, counted once.
        assert rows[0]["breached"] == 1
        assert sum(row["tickets"] for row in rows) == summary["totals"]["created"]

    def test_tags_are_counted_per_ticket_most_used_first(self, desk: Desk) -> None:
        march = report(date(2025, 3, 1), date(2025, 3, 31))
        assert march["by_tag"] == [
            {"tag": "vip", "count": 3},
            {"tag": "correo", "count": 1},
            {"tag": "facturación", "count": 1},
            {"tag": "impresora", "count": 1},
        ]
        # The tags of a ticket's newest snapshot only: "correo" alone was replaced.
        may = report(date(2025, 5, 1), date(2025, 5, 31))
        assert may["by_tag"] == [{"tag": "router", "count": 2}, {"tag": "vip", "count": 1}]

    def test_a_merged_ticket_counts_as_resolved_in_its_team(self, desk: Desk) -> None:
        summary = report(date(2025, 5, 1), date(2025, 5, 31))
        network = next(row for row in summary["by_team"] if row["team_id"] == str(NETWORK))
        # Closed by the merge (version 2), never resolved: done all the same.
        assert network["by_status"] == {
            "pending": 1,
            "in_progress": 0,
            "waiting": 0,
            "resolved": 0,
            "closed": 1,
        }
        assert (network["open"], network["resolved"]) == (1, 1)
        # To its closing, as it has no resolution of its own.
        assert network["mean_resolution_hours"] == 2.0

    def test_resolution_histogram(self, desk: Desk) -> None:
        summary = report(date(2025, 3, 1), date(2025, 3, 31))
        counts = {
            bucket["from_hours"]: bucket["count"]
            for bucket in summary["resolution"]["distribution"]
        }
        # 8 h, 96 h, 96 h (reopened), 3.5 h, 12 h (no SLA).
        assert counts == {0: 0, 1: 1, 4: 0, 8: 2, 24: 0, 72: 2, 168: 0}
        assert sum(counts.values()) == summary["resolution"]["count"]


@pytest.mark.django_db
class TestEdges:
    def test_an_empty_range_is_a_valid_empty_report(self, desk: Desk) -> None:
        summary = report(date(2024, 6, 1), date(2024, 6, 30))
        assert summary["totals"] == {
            "created": 0,
            "open": 0,
            "resolved": 0,
            "closed": 0,
            "reopened": 0,
            "unassigned": 0,
        }
        assert summary["csat"] == {
            "answered": 0,
            "good": 0,
            "bad": 0,
            "score": None,
            "surveyed": 0,
            "responded": 0,
            "response_rate": None,
            "timeline": [
                {"date": row["date"], "answered": 0, "good": 0, "bad": 0, "score": None}
                for row in summary["timeline"]
            ],
            "by_technician": [],
            "by_team": [],
            "by_category": [],
        }
        assert summary["first_response"]["mean_hours"] is None
        assert summary["first_response"]["sla"]["compliance"] is None
        assert summary["reopen_rate"] is None
        assert summary["technicians"] == []
        assert summary["by_category"] == []
        assert summary["by_team"] == []
        assert summary["by_tag"] == []
        assert len(summary["timeline"]) == 30
        assert all(
            row == {"date": row["date"], "created": 0, "resolved": 0, "reopened": 0, "backlog": 0}
            for row in summary["timeline"]
        )

    def test_an_empty_projection(self, db: None) -> None:
        summary = report(date(2025, 3, 1), date(2025, 3, 31))
        assert summary["totals"]["created"] == 0
        assert summary["activity"] == {
            "backlog_start": 0,
            "backlog_end": 0,
            "created": 0,
            "resolved": 0,
            "reopened": 0,
        }

    def test_a_period_still_running_stops_the_timeline_today(self, desk: Desk) -> None:
        now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
        summary = report(date(2025, 3, 1), date(2025, 3, 31), now=now)
        assert summary["timeline"][-1]["date"] == "2025-03-10"
        assert summary["period"]["as_of"] == "2025-03-10T12:00:00Z"
        oracle = expected(desk, date(2025, 3, 1), date(2025, 3, 31), now=now).summary
        assert summary["first_response"]["sla"] == oracle["first_response"]["sla"]

    def test_open_slas_are_judged_at_the_end_of_the_period(self, desk: Desk) -> None:
        # The ticket of 31 March 23:59 is due on 1 April: pending for March...
        march = report(date(2025, 3, 31), date(2025, 3, 31))
        assert march["first_response"]["sla"]["pending"] == 1
        # ...and breached when the period runs past its due time.
        longer = report(date(2025, 3, 31), date(2025, 4, 1))
        assert longer["first_response"]["sla"]["pending"] == 0

    def test_the_portable_path_equals_the_postgresql_one(
        self, desk: Desk, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        in_database = report(date(2025, 2, 1), date(2025, 11, 30))
        monkeypatch.setattr(metrics, "packs_floats", lambda: False)
        in_pandas = report(date(2025, 2, 1), date(2025, 11, 30))
        assert in_pandas == in_database


@pytest.mark.django_db
def test_by_tag_lists_the_most_used_tags_only(db: None) -> None:
    desk = Desk()
    many = tuple(f"tag{n:02d}" for n in range(metrics.TOP_TAGS + 5))
    desk.ticket(at(2025, 3, 3, 9, 0), tags=many)
    desk.ticket(at(2025, 3, 4, 9, 0), tags=("tag54", "tag53"))
    desk.apply()
    by_tag = report(date(2025, 3, 1), date(2025, 3, 31))["by_tag"]
    assert len(by_tag) == metrics.TOP_TAGS
    assert by_tag[:3] == [
        {"tag": "tag53", "count": 2},
        {"tag": "tag54", "count": 2},
        {"tag": "tag00", "count": 1},
    ]


@pytest.mark.django_db
def test_a_team_filter_counts_the_timeline_of_the_team_only(db: None) -> None:
    """The timeline reads ``OpenSpell``: its copy of the team follows the ticket's."""
    desk = Desk()
    moved = desk.ticket(at(2025, 3, 3, 9, 0), team_id=1)
    desk.ticket(at(2025, 3, 3, 10, 0), team_id=1, tags=("vip",))
    desk.ticket(at(2025, 3, 3, 11, 0), team_id=2, tags=("vip",))
    moved.update(at(2025, 3, 4, 9, 0), team_id=2)
    desk.team(1, "Uno", kind=schemas.TeamCreated)
    desk.apply()
    one = report(date(2025, 3, 1), date(2025, 3, 10), team_id="1")
    assert one["activity"]["created"] == 1
    assert one["timeline"][-1]["backlog"] == 1
    two = report(date(2025, 3, 1), date(2025, 3, 10), team_id="2", tags=("vip",))
    assert two["activity"]["created"] == 1
    assert two["totals"]["created"] == 1


JUNE = (date(2025, 6, 1), date(2025, 6, 30))


@pytest.mark.django_db
class TestStatusesAndSatisfaction:
    """Issue 19: waiting and closed tickets, and the satisfaction figures (June)."""

    def test_june_against_the_oracle(self, desk: Desk) -> None:
        assert_matches(report(*JUNE), expected(desk, *JUNE, now=NOW).summary)

    def test_june_statuses(self, desk: Desk) -> None:
        summary = report(*JUNE)
        by_status = {row["status"]: row["count"] for row in summary["by_status"]}
        # Merged and auto-closed: closed; two waiting on the client; the follow-up pending.
        assert by_status == {
            "pending": 1,
            "in_progress": 0,
            "waiting": 2,
            "resolved": 4,
            "closed": 2,
        }
        totals = summary["totals"]
        assert (totals["created"], totals["open"], totals["resolved"], totals["closed"]) == (
            9,
            3,
            6,
            2,
        )
        # Waiting pauses the clock: the ticket due after its wait began is pending, the
        # one already late when it began to wait is breached; the one that waited a day
        # was resolved in time thanks to it.
        assert summary["resolution"]["sla"] == {
            "met": 5,
            "breached": 3,
            "pending": 1,
            "compliance": round(5 / 8, 4),
        }
        bruno = next(row for row in summary["technicians"] if row["assignee_id"] == str(BRUNO))
        assert (bruno["open"], bruno["resolved"]) == (1, 1)  # waiting is open

    def test_june_satisfaction(self, desk: Desk) -> None:
        with override("en"):
            csat = report(*JUNE)["csat"]
        assert {key: csat[key] for key in CSAT_FIGURES} == {
            "answered": 4,
            "good": 3,
            "bad": 1,
            "score": 0.75,
            "surveyed": 4,  # the ticket resolved twice is one; the one of 31 May is May's
            "responded": 3,
            "response_rate": 0.75,
        }
        # The answer given while Bruno had the ticket stays his after it went to Ana.
        assert [
            (row["assignee_id"], row["name"], row["answered"], row["good"], row["surveyed"])
            for row in csat["by_technician"]
        ] == [
            (str(ANA), "Ana Pérez", 2, 2, 1),
            (str(BRUNO), "Bruno Díaz", 2, 1, 2),
            (None, "Unassigned", 0, 0, 1),
        ]
        assert [(row["team_id"], row["name"], row["score"]) for row in csat["by_team"]] == [
            (str(FIRST_LINE), "Primer nivel", 1.0),
            (str(NETWORK), "Redes y comunicaciones", 1.0),
            (None, "No team", 0.0),
        ]
        assert [(row["category"], row["answered"]) for row in csat["by_category"]] == [
            ("email", 2),  # most answered first, then by category
            ("hardware", 1),
            ("network", 1),
        ]
        answered_days = {
            row["date"]: (row["good"], row["bad"]) for row in csat["timeline"] if row["answered"]
        }
        # 1 June 00:15 local is 31 May in UTC: June's. The changed answer counts once,
        # on the day of the latest.
        assert answered_days == {
            "2025-06-01": (1, 0),
            "2025-06-03": (1, 0),
            "2025-06-05": (0, 1),
            "2025-06-12": (1, 0),
        }

    def test_surveyed_in_one_period_answered_in_the_next(self, desk: Desk) -> None:
        may = report(date(2025, 5, 1), date(2025, 5, 31))["csat"]
        assert {key: may[key] for key in CSAT_FIGURES} == {
            "answered": 0,
            "good": 0,
            "bad": 0,
            "score": None,
            "surveyed": 1,
            "responded": 1,  # answered since (in June): the rate never exceeds 1
            "response_rate": 1.0,
        }

    def test_weekly_satisfaction_adds_up_the_days(self, desk: Desk) -> None:
        weekly = report(*JUNE, interval="week")["csat"]["timeline"]
        daily = report(*JUNE)["csat"]["timeline"]
        assert sum(row["good"] for row in weekly) == sum(row["good"] for row in daily) == 3
        assert sum(row["bad"] for row in weekly) == 1
        assert weekly[0] == {"date": "2025-06-01", "answered": 1, "good": 1, "bad": 0, "score": 1.0}

    @pytest.mark.parametrize(
        ("filters", "keep"),
        [
            ({"status": "waiting"}, lambda t: t.status == "waiting"),
            ({"status": "closed"}, lambda t: t.status == "closed"),
            ({"status": "resolved"}, lambda t: t.status == "resolved"),
            ({"assignee_id": str(ANA)}, lambda t: t.assignee_id == ANA),
            ({"assignee_id": str(BRUNO)}, lambda t: t.assignee_id == BRUNO),
            ({"assignee_id": "none"}, lambda t: t.assignee_id is None),
            ({"team_id": str(FIRST_LINE)}, lambda t: t.team_id == FIRST_LINE),
            ({"team_id": "none"}, lambda t: t.team_id is None),
            ({"category": "email"}, lambda t: t.category == "email"),
            ({"tags": ("vip",)}, lambda t: "vip" in t.tags),
        ],
        ids=lambda value: "-".join(map(str, value.values())) if isinstance(value, dict) else "",
    )
    def test_june_filters(self, desk: Desk, filters: dict[str, Any], keep: Any) -> None:
        summary = report(*JUNE, **filters)
        oracle = expected(
            desk, *JUNE, now=NOW, keep=keep, csat_keep=csat_keep_for(filters, keep)
        ).summary
        assert_matches(summary, oracle)

    def test_the_technician_filter_means_whom_the_answer_is_about(self, desk: Desk) -> None:
        ana = report(*JUNE, assignee_id=str(ANA))
        # Ana has the ticket Bruno was answered about: hers in the cohort, not in csat.
        assert ana["totals"]["created"] == 2  # her own and the one given to her
        assert (ana["csat"]["answered"], ana["csat"]["good"]) == (2, 2)
        assert [row["assignee_id"] for row in ana["csat"]["by_technician"]] == [str(ANA)]
