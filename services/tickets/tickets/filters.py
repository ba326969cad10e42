"""The list filters of ``GET /api/tickets/``; an invalid value is a 400, never ignored."""

from __future__ import annotations

import copy
from datetime import datetime, time, timedelta
from typing import Any, ClassVar

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
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


class TicketFilter(filters.FilterSet):
    # distinct=False: django-filter's default DISTINCT would sort every matching row
    # before the LIMIT (slow on a large table); no filter here can duplicate rows.
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(
        choices=[(key, key) for key in Priority.api_keys()],
        method="filter_priority",
        distinct=False,
    )
    category = filters.ModelMultipleChoiceFilter(
        field_name="category__slug",
        to_field_name="slug",
        queryset=Category.objects.all(),
        distinct=False,
    )
    assignee_id = filters.CharFilter(max_length=USER_ID_LENGTH)
    client_id = filters.CharFilter(max_length=USER_ID_LENGTH)
    unassigned = filters.ChoiceFilter(choices=BOOLEAN_CHOICES, method="filter_unassigned")
    breached = filters.ChoiceFilter(choices=BOOLEAN_CHOICES, method="filter_breached")
    created_after = MomentFilter(field_name="created_at", before=False)
    created_before = MomentFilter(field_name="created_at", before=True)
    updated_after = MomentFilter(field_name="updated_at", before=False)
    updated_before = MomentFilter(field_name="updated_at", before=True)
    q = filters.CharFilter(max_length=Q_MAX_LENGTH, method="filter_q")

    class Meta:
        model = Ticket
        fields: list[str] = []

    #: The form validating the query string, built once per process (see ``__init__``).
    _form_class: ClassVar[type[forms.Form] | None] = None

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Ticket] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        """django-filter's ``FilterSet.__init__``, with shallow copies of the filters.

        django-filter deep-copies every declared filter for each request (the category
        filter's queryset with it) and then builds a new form class from them: together
        a large share of the CPU of a search request. What a filter keeps per request is
        its FilterSet, its model and its bound ``method``, so a shallow copy with those set
        again is enough; the form class depends on nothing per request and is built once.
        """
        if queryset is None:
            queryset = Ticket.objects.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, declared in self.base_filters.items():
            filter_ = copy.copy(declared)
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method:
                filter_.method = filter_.method  # binds a FilterMethod to this copy
            self.filters[name] = filter_

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        if cls.__dict__.get("_form_class") is None:
            cls._form_class = super().get_form_class()
        form_class = cls._form_class
        assert form_class is not None  # noqa: S101 (set just above)
        return form_class

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
