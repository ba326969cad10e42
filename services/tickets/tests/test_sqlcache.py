"""tickets.sqlcache: SQL compiled once per shape gives what the ORM gives, or steps aside."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import QuerySet
from tickets import selectors, sqlcache
from tickets.actors import Actor
from tickets.models import Ticket

from tests.conftest import CALLERS
from tests.factories import TicketFactory

FIELDS = [field.attname for field in Ticket._meta.concrete_fields if field.name != "search_vector"]


def same(cached: Ticket, orm: Ticket) -> None:
    assert [getattr(cached, f) for f in FIELDS] == [getattr(orm, f) for f in FIELDS]
    assert (cached.client_name, cached.assignee_name) == (orm.client_name, orm.assignee_name)  # type: ignore[attr-defined]
    assert cached.get_deferred_fields() == orm.get_deferred_fields() == {"search_vector"}


@pytest.mark.django_db
def test_a_ticket_read_through_the_cache_is_the_orm_s(directory: Any) -> None:
    client, technician = CALLERS["client"], CALLERS["technician"]
    mine = TicketFactory(client_id=str(client.id), assignee_id=str(technician.id))
    theirs = TicketFactory(client_id=str(CALLERS["other_client"].id))
    for _ in range(2):  # compiled on the first call, reused on the second
        for actor, ticket in ((client.actor, mine), (technician.actor, theirs)):
            orm = selectors.with_names(Ticket.objects.defer("search_vector")).get(pk=ticket.pk)
            same(selectors.ticket_get(actor=actor, ticket_id=ticket.pk), orm)
    # The client's id is a value of the cached SQL, not a constant: others stay hidden.
    with pytest.raises(selectors.Http404):
        selectors.ticket_get(actor=client.actor, ticket_id=theirs.pk)
    other = Actor(id=str(CALLERS["other_client"].id), role="client")
    assert selectors.ticket_get(actor=other, ticket_id=theirs.pk).pk == theirs.pk


@pytest.mark.django_db
def test_the_sql_is_built_once_per_key_and_run_with_each_call_s_values() -> None:
    first, second = TicketFactory(), TicketFactory()
    built: list[dict[str, Any]] = []

    def build(ticket_id: int) -> QuerySet[Ticket]:
        built.append({"ticket_id": ticket_id})
        return Ticket.objects.filter(pk=ticket_id)

    key = ("test", "by id")
    assert [t.pk for t in sqlcache.run(key, build, ticket_id=first.pk)] == [first.pk]
    assert len(built) == 2  # two sets of markers, no real value
    assert first.pk not in [call["ticket_id"] for call in built]
    assert [t.pk for t in sqlcache.run(key, build, ticket_id=second.pk)] == [second.pk]
    assert len(built) == 2


@pytest.mark.django_db
def test_a_transformed_value_or_a_none_runs_through_the_orm() -> None:
    TicketFactory(title="Printer on fire")
    calls = []

    def containing(text: str) -> QuerySet[Ticket]:
        calls.append(text)
        return Ticket.objects.filter(title__icontains=text)

    for _ in range(2):
        assert [t.title for t in sqlcache.run(("test", "contains"), containing, text="fire")] == [
            "Printer on fire"
        ]
    assert calls[-1] == "fire"  # the real value reached the ORM: nothing was cached

    def assigned_to(assignee_id: str | None) -> QuerySet[Ticket]:
        return Ticket.objects.filter(assignee_id=assignee_id)

    assert len(list(sqlcache.run(("test", "assignee"), assigned_to, assignee_id=None))) == 1
    assert list(sqlcache.run(("test", "assignee"), assigned_to, assignee_id="nobody")) == []


@pytest.mark.django_db
def test_plain_queries_become_instances_directly_and_others_go_through_raw(
    directory: Any,
) -> None:
    ticket = TicketFactory(client_id=str(CALLERS["client"].id))
    technician = CALLERS["technician"].actor
    selectors.ticket_get(actor=technician, ticket_id=ticket.pk)
    plain = sqlcache._cache[("ticket", False)]
    assert isinstance(plain, sqlcache._Compiled)
    assert plain.attnames is not None
    assert {"id", "category_id", "client_name", "assignee_name"} <= set(plain.attnames)
    assert "search_vector" not in plain.attnames  # deferred, as the ORM leaves it
    got = selectors.ticket_get(actor=technician, ticket_id=ticket.pk)
    assert got._state.db == "default"
    assert not got._state.adding
    got.title = "Saved through the instance"
    got.save(update_fields=["title"])  # a real instance: it can be written back
    assert Ticket.objects.get(pk=ticket.pk).title == "Saved through the instance"

    # A query with a related model is not plain: Model.objects.raw builds it.
    def with_category(ticket_id: int) -> QuerySet[Ticket]:
        return Ticket.objects.select_related("category").filter(pk=ticket_id)

    rows = list(sqlcache.run(("test", "related"), with_category, ticket_id=ticket.pk))
    related = sqlcache._cache[("test", "related")]
    assert isinstance(related, sqlcache._Compiled)
    assert related.attnames is None
    assert [row.pk for row in rows] == [ticket.pk]
