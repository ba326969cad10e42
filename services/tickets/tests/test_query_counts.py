"""Zulip-style query-count assertions: list, detail and comments cost the same whatever
the page size (no N+1 on names, categories or anything else).

Every authenticated request starts with one primary-key read of the caller in the user
directory (``SERVIDESK_USER_DIRECTORY``: a deactivated user is refused, the directory's
role wins); the counts below include it as their first query.
"""

from __future__ import annotations

from typing import Any

import pytest
from tickets import calendars
from tickets.categories import slug_of

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(callers: dict[str, Caller]) -> list[Any]:
    category = CategoryFactory(slug="network")
    # Slugs are kept per process (tickets.categories): count queries in the steady state.
    assert slug_of(category.pk) == "network"
    return [TicketFactory(client_id="11", assignee_id="21", category=category) for _ in range(30)]


@pytest.mark.parametrize("role", ["client", "technician"])
@pytest.mark.parametrize("page_size", [1, 10, 30])
def test_list_is_one_query_after_the_caller(
    api: Api,
    callers: dict[str, Caller],
    tickets: list[Any],
    assert_queries: Any,
    role: str,
    page_size: int,
) -> None:
    # Staff get the page's tags too: one more query, whatever the page size.
    with assert_queries(2 if role == "client" else 3):
        response = api.get("/api/tickets/", as_=callers[role], page_size=str(page_size))
    body = response.json()
    assert len(body["results"]) == page_size
    assert body["results"][0]["client_name"] == "Ana Example"
    assert body["results"][0]["assignee_name"] == "Tere Example"
    assert body["results"][0]["category"] == "network"


def test_filtered_and_searched_list_is_still_one_query_after_the_caller(
    api: Api, callers: dict[str, Caller], tickets: list[Any], assert_queries: Any
) -> None:
    params = {
        "status": "pending",
        "priority": "medium",
        "category": "network",
        "breached": "false",
        "created_after": "2000-01-01",
        "q": "a",
        "ordering": "-priority",
    }
    api.get("/api/tickets/", as_=callers["technician"], q="warm")  # loads the word statistics
    # +1: the category filter validates the slug against the categories; +1 the tags.
    with assert_queries(4) as context:
        response = api.get("/api/tickets/", as_=callers["technician"], **params)
    assert response.status_code == 200
    # No DISTINCT (django-filter adds one by default): it sorts every match before LIMIT.
    assert not any("DISTINCT" in query["sql"] for query in context.captured_queries)


def test_next_page_is_one_query_after_the_caller(
    api: Api, callers: dict[str, Caller], tickets: list[Any], assert_queries: Any
) -> None:
    first = api.get("/api/tickets/", as_=callers["technician"], page_size="5").json()
    with assert_queries(3):  # the caller, the page, its tags
        api.client.get(first["next"], headers=callers["technician"].headers)


def test_detail_is_one_query_after_the_caller(
    api: Api, callers: dict[str, Caller], tickets: list[Any], assert_queries: Any
) -> None:
    with assert_queries(2):
        response = api.get(f"/api/tickets/{tickets[0].pk}/", as_=callers["client"])
    assert response.status_code == 200


@pytest.mark.parametrize("count", [1, 20])
def test_comments_are_two_queries_after_the_caller(
    api: Api,
    callers: dict[str, Caller],
    tickets: list[Any],
    assert_queries: Any,
    count: int,
) -> None:
    ticket = tickets[0]
    for index in range(count):
        CommentFactory(ticket=ticket, author_id="21" if index % 2 else "11")
    # The caller, the scoped ticket lookup, then one page of comments with their authors' names.
    with assert_queries(3):
        response = api.get(f"/api/tickets/{ticket.pk}/comments/", as_=callers["client"])
    assert len(response.json()["results"]) == count
    assert {c["author_name"] for c in response.json()["results"]} <= {
        "Ana Example",
        "Tere Example",
    }


def test_history_is_two_queries_after_the_caller(
    api: Api, callers: dict[str, Caller], open_ticket: Any, assert_queries: Any
) -> None:
    ticket = open_ticket("client")
    with assert_queries(3):
        api.get(f"/api/tickets/{ticket.pk}/history/", as_=callers["client"])


@pytest.mark.parametrize("role", ["client", "technician", "admin"])
def test_ticket_renders_its_declared_fields(
    callers: dict[str, Caller], tickets: list[Any], role: str
) -> None:
    """What a ticket renders is what its serializer declares (the OpenAPI schema), the
    staff-only ``version`` and ``tags`` aside, with the values as DRF would write them."""
    from tickets import selectors  # noqa: PLC0415
    from tickets.api.serializers import TicketSerializer  # noqa: PLC0415

    actor = callers[role].actor
    tickets[1].first_response_at = tickets[1].created_at
    tickets[1].save()
    serializer = TicketSerializer(context={"actor": actor})
    declared = set(serializer.fields)
    if not actor.is_staff:
        declared -= {"version", "tags"}
    for row in selectors.ticket_list(actor=actor, filters={})[:3]:
        data = serializer.to_representation(row)
        assert set(data) == declared
        for name in ("created_at", "updated_at", "first_response_at", "resolution_due"):
            expected = serializer.fields[name].to_representation(getattr(row, name))
            assert data[name] == (expected if getattr(row, name) is not None else None)
        assert data["priority"] == serializer.fields["priority"].to_representation(row.priority)
        assert data["number"] == row.reference


# --- writes answer from what they wrote -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reads_run_outside_a_transaction_and_writes_inside_one(
    api: Api, callers: dict[str, Caller], tickets: list[Any]
) -> None:
    """As in production, where no test transaction wraps the request."""
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    technician = callers["technician"]
    calendars.current()  # a running process has the SLA's settings in memory
    with CaptureQueriesContext(connection) as reads:
        api.get("/api/tickets/", as_=technician)
        api.get(f"/api/tickets/{tickets[0].pk}/", as_=technician)
    with CaptureQueriesContext(connection) as write:
        response = api.post(
            f"/api/tickets/{tickets[0].pk}/status/", {"status": "in_progress"}, as_=technician
        )
    assert response.status_code == 200
    statements = [query["sql"] for query in reads.captured_queries]
    # each: the caller in the directory, the tickets, their tags
    assert len(statements) == 6
    assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in statements)
    written = [query["sql"] for query in write.captured_queries]
    # One transaction, the service's: only the caller's directory read comes before it,
    # the row lock is taken inside it, and the relay's NOTIFY goes with the outbox row,
    # inside too: nothing after the COMMIT.
    assert written.count("BEGIN") == 1
    begin = written.index("BEGIN")
    assert begin == 1
    assert written[-1] == "COMMIT"
    assert any("FOR UPDATE" in sql for sql in written[begin:])


def test_a_status_change_answers_without_reading_the_ticket_again(
    api: Api, callers: dict[str, Caller], tickets: list[Any], assert_queries: Any
) -> None:
    url = f"/api/tickets/{tickets[0].pk}/"
    technician = callers["technician"]
    # The caller, lock (with the names), the tags, update, history entry, the event's
    # sequence and its outbox row (servidesk_shared.events.publisher; the relay's NOTIFY
    # is a trigger).
    with assert_queries(7):
        changed = api.post(f"{url}status/", {"status": "in_progress"}, as_=technician)
    assert changed.status_code == 200
    assert changed.json() == api.get(url, as_=technician).json()
    assert changed.json()["client_name"] == "Ana Example"


def test_a_new_ticket_answers_with_the_client_s_name(
    api: Api, callers: dict[str, Caller], assert_queries: Any
) -> None:
    body = {"title": "VPN drops", "description": "Every ten minutes.", "priority": "high"}
    # The caller, number with SLA target and client (services._read_opening), ticket, history
    # entry, the event's sequence and its outbox row.
    with assert_queries(6):
        created = api.post("/api/tickets/", body, as_=callers["client"])
    assert created.status_code == 201
    assert created.json()["client_name"] == "Ana Example"
    url = f"/api/tickets/{created.json()['id']}/"
    assert created.json() == api.get(url, as_=callers["client"]).json()


def test_an_assignment_answers_with_the_new_assignee_s_name(
    api: Api, callers: dict[str, Caller], tickets: list[Any]
) -> None:
    url = f"/api/tickets/{tickets[0].pk}/"
    admin = callers["admin"]
    assigned = api.post(f"{url}assign/", {"assignee_id": 22}, as_=admin)
    assert assigned.status_code == 200
    assert assigned.json()["assignee_name"] == "Tomas Example"
    assert assigned.json() == api.get(url, as_=admin).json()
