"""The list filters of ``GET /api/tickets/``; an invalid value is a 400, never ignored."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from servidesk_shared.moments import utc_moment
from tickets import search
from tickets.models import USER_ID_LENGTH, Category, Priority, Status, Ticket, breached_q

Q_MAX_LENGTH = 200


class MomentField(forms.Field):
    """An ISO-8601 date-time (``2026-03-01T10:00:00Z``) or a date (``2026-03-01``).

    A date alone stands for its whole day (UTC unless the server says otherwise): the
    ``*_after`` filters start at its first instant, the ``*_before`` ones end after its last.
    """

    default_error_messages = {
        "invalid": _("Enter a date (YYYY-MM-DD) or an ISO-8601 date and time."),
    }

    def to_python(self, value: Any) -> tuple[datetime, bool] | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            # A date alone first: parse_datetime would also read it, as midnight.
            day = parse_date(text) if len(text) == 10 else None
            if day is None:
                moment = parse_datetime(text)
                if moment is None:
                    raise ValueError(text)
                return utc_moment(moment), False
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return utc_moment(datetime.combine(day, time.min)), True


class MomentFilter(filters.Filter):
    field_class = MomentField

    def __init__(self, *args: Any, before: bool, **kwargs: Any) -> None:
        self.before = before
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Ticket], value: tuple[datetime, bool] | None) -> QuerySet[Ticket]:
        if value is None:
            return qs
        moment, whole_day = value
        if self.before:
            if whole_day:
                return qs.filter(**{f"{self.field_name}__lt": moment + timedelta(days=1)})
            return qs.filter(**{f"{self.field_name}__lte": moment})
        return qs.filter(**{f"{self.field_name}__gte": moment})


#: ``true``/``false`` (or ``1``/``0``); anything else is a 400, not "no filter".
BOOLEAN_CHOICES = [("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")]


def as_bool(value: str) -> bool:
    return value in ("true", "1")


def categories(request: Any) -> QuerySet[Category]:
    """The categories a ``category`` value may name.

    A callable rather than a queryset: every FilterSet deep-copies its declared filters,
    and a function is copied by reference where a queryset would be copied whole.
    """
    return Category.objects.all()


class TicketFilter(filters.FilterSet):
    # Labels are given: django-filter would otherwise derive each from the model's fields
    # on every request (every FilterSet works on copies of these filters).
    # distinct=False: django-filter's default DISTINCT would sort every matching row
    # before the LIMIT (slow on a large table); no filter here can duplicate rows.
    status = filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(
        label=_("Priority"),
        choices=[(key, key) for key in Priority.api_keys()],
        method="filter_priority",
        distinct=False,
    )
    category = filters.ModelMultipleChoiceFilter(
        label=_("Category"),
        field_name="category__slug",
        to_field_name="slug",
        queryset=categories,
        distinct=False,
    )
    assignee_id = filters.CharFilter(label=_("Assignee"), max_length=USER_ID_LENGTH)
    client_id = filters.CharFilter(label=_("Client"), max_length=USER_ID_LENGTH)
    unassigned = filters.ChoiceFilter(
        label=_("Unassigned"), choices=BOOLEAN_CHOICES, method="filter_unassigned"
    )
    breached = filters.ChoiceFilter(
        label=_("Breached"), choices=BOOLEAN_CHOICES, method="filter_breached"
    )
    created_after = MomentFilter(label=_("Created after"), field_name="created_at", before=False)
    created_before = MomentFilter(label=_("Created before"), field_name="created_at", before=True)
    updated_after = MomentFilter(label=_("Updated after"), field_name="updated_at", before=False)
    updated_before = MomentFilter(label=_("Updated before"), field_name="updated_at", before=True)
    q = filters.CharFilter(label=_("Search"), max_length=Q_MAX_LENGTH, method="filter_q")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_priority(
        self, qs: QuerySet[Ticket], name: str, value: list[str]
    ) -> QuerySet[Ticket]:
        if not value:
            return qs
        return qs.filter(priority__in=[Priority.from_key(key) for key in value])

    def filter_unassigned(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.filter(assignee_id__isnull=as_bool(value))

    def filter_breached(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        condition = breached_q(timezone.now())
        return qs.filter(condition) if as_bool(value) else qs.exclude(condition)

    def filter_q(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip()
        return search.search(qs, value) if value else qs
