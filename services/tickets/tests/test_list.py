"""The list: every filter, full-text search, ordering and keyset pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tickets import search
from tickets.models import Priority, Status

from tests.conftest import Api, Caller, postgresql_only
from tests.factories import CategoryFactory, CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


def ids(api: Api, caller: Caller, **params: Any) -> list[int]:
    response = api.get("/api/tickets/", as_=caller, **params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


class TestFilters:
    @pytest.fixture
    def tickets(self, callers: dict[str, Caller]) -> dict[str, Any]:
        network, hardware = CategoryFactory(slug="network"), CategoryFactory(slug="hardware")
        day = datetime(2026, 3, 10, 12, tzinfo=UTC)
        return {
            "a": TicketFactory(
                client_id="11",
                status=Status.PENDING,
                priority=Priority.LOW,
                category=network,
                created_at=day,
                updated_at=day,
            ),
            "b": TicketFactory(
                client_id="12",
                status=Status.IN_PROGRESS,
                priority=Priority.URGENT,
                category=hardware,
                assignee_id="21",
                created_at=day + timedelta(days=1),
                updated_at=day + timedelta(days=5),
            ),
            "c": TicketFactory(
                client_id="11",
                status=Status.RESOLVED,
                priority=Priority.HIGH,
                assignee_id="22",
                created_at=day + timedelta(days=2),
                updated_at=day + timedelta(days=2),
            ),
        }

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({}, "cba"),
            ({"status": "pending"}, "a"),
            ({"status": ["pending", "resolved"]}, "ca"),
            ({"priority": "urgent"}, "b"),
            ({"priority": ["low", "high"]}, "ca"),
            ({"category": "network"}, "a"),
            ({"assignee_id": "21"}, "b"),
            ({"client_id": "11"}, "ca"),
            ({"unassigned": "true"}, "a"),
            ({"unassigned": "false"}, "cb"),
            ({"created_after": "2026-03-11"}, "cb"),
            ({"created_before": "2026-03-11"}, "ba"),
            ({"created_after": "2026-03-11T12:00:00Z", "created_before": "2026-03-11T12:00Z"}, "b"),
            ({"created_after": "2026-03-11T13:00:00+01:00"}, "cb"),
            ({"updated_after": "2026-03-13"}, "b"),
            ({"updated_before": "2026-03-12"}, "ca"),
            ({"status": "in_progress", "assignee_id": "22"}, ""),
        ],
    )
    def test_filter(
        self,
        api: Api,
        callers: dict[str, Caller],
        tickets: dict[str, Any],
        params: dict[str, Any],
        expected: str,
    ) -> None:
        found = ids(api, callers["technician"], **params)
        assert found == [tickets[key].pk for key in expected]


class TestSearch:
    @pytest.fixture
    def tickets(self, callers: dict[str, Caller]) -> dict[str, Any]:
        printer = TicketFactory(
            client_id="11",
            title="La impresora no imprime",
            description="Sale una hoja en blanco.",
        )
        vpn = TicketFactory(
            client_id="11", title="VPN keeps dropping", description="Every ten minutes."
        )
        phone = TicketFactory(
            client_id="12", title="Teléfono sin línea", description="Extension 204."
        )
        CommentFactory(ticket=vpn, body="Happens on the Wi-Fi of meeting room Júpiter")
        CommentFactory(ticket=vpn, body="flamingo in the logs", internal=True)
        for ticket in (printer, vpn, phone):
            search.refresh_search_vector(ticket.pk)
        return {"printer": printer, "vpn": vpn, "phone": phone}

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("impresora", ["printer"]),
            ("IMPRESORAS", []),  # prefix matching, not stemming: longer words don't match
            ("impres", ["printer"]),  # a prefix matches
            pytest.param("telefono", ["phone"], marks=postgresql_only),  # accents fold
            ("teléfono línea", ["phone"]),
            pytest.param("jupiter", ["vpn"], marks=postgresql_only),  # comments, unaccented
            ("meeting", ["vpn"]),  # public comments are searched
            ("flamingo", []),  # internal notes never are
            ("blanco hoja", ["printer"]),  # every word must match, in any order
            ("vpn impresora", []),
            ("dropping minutes", ["vpn"]),
        ],
    )
    @pytest.mark.parametrize("rare", [True, False], ids=["gin-first", "walk-the-order"])
    def test_full_text(
        self,
        api: Api,
        callers: dict[str, Caller],
        tickets: dict[str, Any],
        q: str,
        expected: list[str],
        rare: bool,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Both query plans (see search._WordStats) must find the same tickets.
        monkeypatch.setattr(search, "is_rare", lambda words: rare)
        found = ids(api, callers["technician"], q=q)
        assert sorted(found) == sorted(tickets[key].pk for key in expected)

    def test_by_number(self, api: Api, callers: dict[str, Caller], tickets: dict[str, Any]) -> None:
        vpn = tickets["vpn"]
        for q in (f"SD-{vpn.number}", f"sd-{vpn.number}", str(vpn.number)):
            assert ids(api, callers["technician"], q=q) == [vpn.pk]

    def test_search_stays_inside_the_callers_scope(
        self, api: Api, callers: dict[str, Caller], tickets: dict[str, Any]
    ) -> None:
        assert ids(api, callers["client"], q="telefono") == []
        phone = tickets["phone"]
        assert ids(api, callers["client"], q=f"SD-{phone.number}") == []


class TestOrderingAndPages:
    @pytest.fixture
    def tickets(self, callers: dict[str, Caller]) -> list[Any]:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        return [
            TicketFactory(
                client_id="11",
                priority=Priority.values[index % 4],
                created_at=start + timedelta(hours=index // 2),  # pairs share a timestamp
                updated_at=start + timedelta(hours=30 - index),
            )
            for index in range(23)
        ]

    @pytest.mark.parametrize(
        ("ordering", "key"),
        [
            ("-created_at", lambda t: (-t.created_at.timestamp(), -t.pk)),
            ("created_at", lambda t: (t.created_at.timestamp(), t.pk)),
            ("-priority", lambda t: (-t.priority, -t.pk)),
            ("priority", lambda t: (t.priority, t.pk)),
            ("updated_at", lambda t: (t.updated_at.timestamp(), t.pk)),
            ("-number", lambda t: (-t.number, -t.pk)),
        ],
    )
    def test_walking_forward_and_back_visits_every_ticket_once(
        self,
        api: Api,
        callers: dict[str, Caller],
        tickets: list[Any],
        ordering: str,
        key: Any,
    ) -> None:
        technician = callers["technician"]
        expected = [t.pk for t in sorted(tickets, key=key)]
        pages: list[list[int]] = []
        body = api.get("/api/tickets/", as_=technician, ordering=ordering, page_size="5").json()
        assert body["previous"] is None
        while True:
            pages.append([row["id"] for row in body["results"]])
            if body["next"] is None:
                break
            body = api.client.get(body["next"], headers=technician.headers).json()
        assert [pk for page in pages for pk in page] == expected
        assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
        # And back again from the last page, through the previous links.
        back: list[list[int]] = [pages[-1]]
        while body["previous"] is not None:
            body = api.client.get(body["previous"], headers=technician.headers).json()
            back.append([row["id"] for row in body["results"]])
        assert back[::-1] == pages

    def test_default_page_size_and_links(
        self, api: Api, callers: dict[str, Caller], tickets: list[Any]
    ) -> None:
        TicketFactory.create_batch(10, client_id="11")
        body = api.get("/api/tickets/", as_=callers["technician"]).json()
        assert set(body) == {"results", "next", "previous"}
        assert len(body["results"]) == 25
        assert body["next"].startswith("http://testserver/api/tickets/?")
        assert "cursor=" in body["next"]

    def test_new_tickets_do_not_shift_the_pages(
        self, api: Api, callers: dict[str, Caller], tickets: list[Any]
    ) -> None:
        technician = callers["technician"]
        first = api.get("/api/tickets/", as_=technician, page_size="10").json()
        TicketFactory.create_batch(3, client_id="11")  # newer, so before the first page
        second = api.client.get(first["next"], headers=technician.headers).json()
        seen = {row["id"] for row in first["results"]}
        assert not seen & {row["id"] for row in second["results"]}
        assert len(second["results"]) == 10


def test_rare_words_are_told_from_common_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    stats = {"impresora": 0.2, "impresoras": 0.05, "vpn": 0.3, "outlook": 0.01}
    monkeypatch.setattr(search._word_stats, "get", lambda: stats)
    assert not search.is_rare(["impres"])  # 0.25 of tickets start with it
    assert not search.is_rare(["vpn", "impresora"])
    assert search.is_rare(["vpn", "outlook"])  # the rarest word decides
    assert search.is_rare(["zzzz"])
    monkeypatch.setattr(search._word_stats, "get", dict)
    assert search.is_rare(["vpn"])  # no statistics yet: a small table


@pytest.mark.parametrize(("text", "folded"), [("Teléfono ÑANDÚ", "telefono nandu"), ("ok", "ok")])
def test_queries_fold_like_unaccent(text: str, folded: str) -> None:
    assert search.fold(text) == folded
