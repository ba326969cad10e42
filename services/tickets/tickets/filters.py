"""The list filters of ``GET /api/tickets/``; an invalid value is a 400, never ignored."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from servidesk_shared.moments import utc_moment
from servidesk_shared.vocabulary import OPEN_STATUSES
from tickets import search, sla, tags, teams
from tickets.actors import Actor
from tickets.models import (
    TAG_MAX_LENGTH,
    USER_ID_LENGTH,
    Category,
    Priority,
    Status,
    Ticket,
    breached_q,
)

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


class TeamChoiceField(forms.Field):
    """A team id, ``mine`` (the caller's teams) or ``none`` (tickets of no team)."""

    default_error_messages = {
        "invalid": _("Enter a team id, “mine” or “none”."),
    }

    def to_python(self, value: Any) -> int | str | None:
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in ("mine", "none"):
            return text
        if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
            return int(text)
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class TeamFilter(filters.Filter):
    field_class = TeamChoiceField

    def filter(self, qs: QuerySet[Ticket], value: int | str | None) -> QuerySet[Ticket]:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(team__isnull=True)
        if value == "mine":
            actor = self.parent.actor
            return qs.filter(team_id__in=teams.team_ids_of(actor.id)) if actor else qs.none()
        return qs.filter(team_id=value)


class TagListField(forms.MultipleChoiceField):
    """Any non-blank text up to a tag's length: tags are free-form, not a fixed list."""

    default_error_messages = {
        "invalid_choice": _("“%(value)s” is not a valid tag."),
    }

    def valid_value(self, value: Any) -> bool:
        return 0 < len(str(value).strip()) <= TAG_MAX_LENGTH


class TagFilter(filters.MultipleChoiceFilter):
    """``tag=a&tag=b``: tickets with every one of the tags (any case; unknown: none).

    Tags are staff-only: for a client the filter matches nothing, so it tells them
    nothing about the tags of their tickets."""

    field_class = TagListField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=[], distinct=False, **kwargs)

    def filter(self, qs: QuerySet[Ticket], value: list[str]) -> QuerySet[Ticket]:
        if not value:
            return qs
        actor = self.parent.actor
        if actor is None or not actor.is_staff:
            return qs.none()
        tag_ids = tags.ids_for(value)
        if tag_ids is None:
            return qs.none()
        through = Ticket.tags.through
        for tag_id in tag_ids:
            qs = qs.filter(Exists(through.objects.filter(ticket_id=OuterRef("pk"), tag_id=tag_id)))
        return qs


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
    sla = filters.ChoiceFilter(
        label=_("SLA"),
        choices=[
            ("breached", _("Breached")),
            ("warning", _("About to breach")),
            ("running", _("On time")),
        ],
        method="filter_sla",
    )
    due_before = MomentFilter(
        label=_("Resolution due before"), field_name="resolution_due", before=True
    )
    team_id = TeamFilter(label=_("Team"))
    tag = TagFilter(label=_("Tag"))
    q = filters.CharFilter(label=_("Search"), max_length=Q_MAX_LENGTH, method="filter_q")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, actor: Actor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Who asks: "my teams" and the staff-only tag filter depend on it.
        self.actor = actor

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

    def filter_sla(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """``breached``: late (as ``breached=true``); ``warning``: a running clock past 80 %
        of its target (watch_sla warned) and not late; ``running``: the resolution clock
        runs and nothing is late."""
        late = breached_q(timezone.now())
        if value == "breached":
            return qs.filter(late)
        running = Q(status__in=[Status.PENDING, Status.IN_PROGRESS])
        if value == "warning":
            warned = Q(running, resolution_stage=sla.WARNED) | Q(
                first_response_at__isnull=True,
                status__in=OPEN_STATUSES,
                first_response_stage=sla.WARNED,
            )
            return qs.filter(warned).exclude(late)
        return qs.filter(running).exclude(late)

    def filter_q(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip()
        return search.search(qs, value) if value else qs
