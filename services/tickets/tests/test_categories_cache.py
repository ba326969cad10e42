"""``tickets.categories``: the per-process slug map follows new and deleted categories."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import services
from tickets.categories import slug_of

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_a_category_created_after_the_map_was_loaded_is_found(
    django_assert_num_queries: Any,
) -> None:
    first = CategoryFactory(slug="network")
    assert slug_of(first.pk) == "network"
    with django_assert_num_queries(0):
        assert slug_of(first.pk) == "network"
        assert slug_of(None) is None
    second = services.category_create(slug="printers", name="Printers")
    assert slug_of(second.pk) == "printers"


def test_a_deleted_category_is_forgotten() -> None:
    category = CategoryFactory(slug="fax")
    assert slug_of(category.pk) == "fax"
    category_id = category.pk
    services.category_delete(category=category)
    assert slug_of(category_id) is None


def test_tickets_show_the_slug_of_a_brand_new_category(
    api: Api, callers: dict[str, Caller]
) -> None:
    assert slug_of(CategoryFactory(slug="network").pk) == "network"
    newer = CategoryFactory(slug="vpn")
    TicketFactory(client_id="11", category=newer)
    rows = api.get("/api/tickets/", as_=callers["technician"]).json()["results"]
    assert [row["category"] for row in rows] == ["vpn"]
