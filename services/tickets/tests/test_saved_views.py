"""Saved views: a name for the queue's filters; own and shared ones, with their counts."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import selectors
from tickets.models import SavedView, Status

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, TicketFactory

pytestmark = pytest.mark.django_db

URL = "/api/tickets/views/"


def make_view(owner: Caller, **fields: Any) -> SavedView:
    fields.setdefault("name", "Mine")
    fields.setdefault("filters", {})
    return SavedView.objects.create(owner_id=str(owner.id), **fields)


@pytest.fixture
def tickets() -> None:
    for status, count in ((Status.PENDING, 3), (Status.IN_PROGRESS, 2), (Status.RESOLVED, 1)):
        for _ in range(count):
            TicketFactory(client_id="11", status=status, assignee_id="21")
    TicketFactory(client_id="12", status=Status.PENDING)


def test_create_and_count(api: Api, callers: dict[str, Caller], tickets: None) -> None:
    body = {
        "name": "  Open   and mine ",
        "filters": {
            "status": ["pending", "in_progress"],
            "assignee_id": "21",
            "ordering": "-priority",
        },
    }
    response = api.post(URL, body, as_=callers["technician"])
    assert response.status_code == 201, response.content
    view = response.json()
    assert set(view) == {
        "id",
        "name",
        "filters",
        "shared",
        "owner_id",
        "count",
        "count_capped",
        "created_at",
    }
    assert view["count_capped"] is False
    assert view["name"] == "Open and mine"
    assert view["count"] == 5
    assert view["shared"] is False
    assert view["owner_id"] == 21
    assert view["filters"] == body["filters"]


def test_a_count_beyond_the_cap_is_a_lower_bound(
    api: Api, callers: dict[str, Caller], tickets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COUNT_CAP", 4)
    technician = callers["technician"]
    make_view(technician, name="Open", filters={"status": ["pending", "in_progress"]})
    make_view(technician, name="Resolved", filters={"status": "resolved"})
    rows = api.get(URL, as_=technician).json()
    assert [(row["name"], row["count"], row["count_capped"]) for row in rows] == [
        ("Open", 4, True),  # six match: "4+"
        ("Resolved", 1, False),
    ]


def test_the_list_is_own_and_shared_with_counts_for_the_caller(
    api: Api, callers: dict[str, Caller], tickets: None, assert_queries: Any
) -> None:
    make_view(callers["client"], name="Pending", filters={"status": "pending"})
    make_view(
        callers["admin"],
        name="All open",
        filters={"status": ["pending", "in_progress"]},
        shared=True,
    )
    make_view(callers["technician"], name="Not yours")
    # The caller, the views, one COUNT per view (two views).
    with assert_queries(4):
        response = api.get(URL, as_=callers["client"])
    rows = response.json()
    assert [(row["name"], row["count"]) for row in rows] == [("All open", 5), ("Pending", 3)]
    # The same shared view counts what each caller sees.
    rows = api.get(URL, as_=callers["other_client"]).json()
    assert [(row["name"], row["count"]) for row in rows] == [("All open", 1)]
    rows = api.get(URL, as_=callers["technician"]).json()
    assert [(row["name"], row["count"]) for row in rows] == [("All open", 6), ("Not yours", 7)]


def test_the_list_costs_one_count_per_view(
    api: Api, callers: dict[str, Caller], tickets: None, assert_queries: Any
) -> None:
    for n in range(6):
        make_view(callers["technician"], name=f"View {n}", filters={"status": "resolved"})
    with assert_queries(2 + 6):
        rows = api.get(URL, as_=callers["technician"]).json()
    assert [row["count"] for row in rows] == [1] * 6


def test_only_admins_share(api: Api, callers: dict[str, Caller]) -> None:
    body = {"name": "Everyone", "filters": {}, "shared": True}
    assert api.post(URL, body, as_=callers["technician"]).status_code == 403
    assert api.post(URL, body, as_=callers["client"]).status_code == 403
    assert api.post(URL, body, as_=callers["admin"]).status_code == 201
    mine = make_view(callers["technician"])
    response = api.patch(f"{URL}{mine.pk}/", {"shared": True}, as_=callers["technician"])
    assert response.status_code == 403


def test_who_changes_which(api: Api, callers: dict[str, Caller]) -> None:
    shared = make_view(callers["admin"], shared=True)
    others = make_view(callers["other_technician"])
    mine = make_view(callers["technician"])
    technician = callers["technician"]
    assert api.patch(f"{URL}{shared.pk}/", {"name": "x"}, as_=technician).status_code == 403
    assert api.delete(f"{URL}{shared.pk}/", as_=technician).status_code == 403
    assert api.patch(f"{URL}{others.pk}/", {"name": "x"}, as_=technician).status_code == 404
    assert api.delete(f"{URL}{others.pk}/", as_=technician).status_code == 404
    response = api.patch(f"{URL}{mine.pk}/", {"filters": {"unassigned": "true"}}, as_=technician)
    assert response.status_code == 200
    assert response.json()["name"] == "Mine"
    assert response.json()["filters"] == {"unassigned": "true"}
    assert api.patch(f"{URL}{shared.pk}/", {"name": "All"}, as_=callers["admin"]).status_code == 200
    assert api.delete(f"{URL}{mine.pk}/", as_=technician).status_code == 204
    assert not SavedView.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ("status=pending", "Expected a dictionary"),
        ({"stauts": "pending"}, "Unknown parameters: stauts"),
        ({"status": "closedish"}, "status"),
        ({"status": 3}, "must be a string or a list of strings"),
        ({"status": []}, "must be a string or a list of strings"),
        ({"status": [["pending"]]}, "must be a string or a list of strings"),
        ({"category": "no-such-category"}, "category"),
        ({"ordering": "title"}, "Order by one of"),
        ({"ordering": ["-priority", "number"]}, "Order by one of"),
        ({"team_id": "theirs"}, "team_id"),
        ({"due_before": "tomorrow"}, "due_before"),
    ],
)
def test_bad_filters_are_a_400(
    api: Api, callers: dict[str, Caller], filters: Any, words: str
) -> None:
    CategoryFactory(slug="network")
    response = api.post(URL, {"name": "x", "filters": filters}, as_=callers["technician"])
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()["extra"]["fields"]["filters"])


def test_a_view_whose_filters_no_longer_apply_counts_null(
    api: Api, callers: dict[str, Caller]
) -> None:
    category = CategoryFactory(slug="printers")
    response = api.post(
        URL, {"name": "Printers", "filters": {"category": "printers"}}, as_=callers["admin"]
    )
    assert response.json()["count"] == 0
    category.delete()
    assert api.get(URL, as_=callers["admin"]).json()[0]["count"] is None
