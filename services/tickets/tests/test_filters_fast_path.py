"""TicketFilter's shallow copies (tickets.filters): no state leaks between requests."""

from __future__ import annotations

from django.http import QueryDict
from tickets.filters import TicketFilter
from tickets.models import Ticket


def test_each_filterset_has_its_own_filters_bound_to_itself() -> None:
    first = TicketFilter(QueryDict("q=printer"), queryset=Ticket.objects.all())
    second = TicketFilter(QueryDict("q=vpn"), queryset=Ticket.objects.all())
    for name, declared in TicketFilter.base_filters.items():
        assert first.filters[name] is not declared
        assert first.filters[name] is not second.filters[name]
        assert first.filters[name].parent is first
        assert second.filters[name].parent is second
        assert not hasattr(declared, "parent")  # the declared filters are never touched
    # A method filter calls the method of its own FilterSet.
    assert first.filters["q"].filter.f is first.filters["q"]
    assert first.filters["q"].filter.method == first.filter_q


def test_the_form_class_is_built_once_and_forms_are_not_shared() -> None:
    first = TicketFilter(QueryDict("status=pending"), queryset=Ticket.objects.all())
    second = TicketFilter(QueryDict("status=bogus"), queryset=Ticket.objects.all())
    assert first.get_form_class() is second.get_form_class()
    assert first.is_valid()
    assert not second.is_valid()
    assert first.form is not second.form
    assert list(second.errors) == ["status"]
