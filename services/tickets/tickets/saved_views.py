"""Saved views: a name for a set of the queue's filters and ordering.

``filters`` is an object of ``GET /api/tickets/`` query parameters: each a filter of
``tickets.filters.TicketFilter`` or ``ordering``, with a string or a list of strings.
They are checked when saved, as the list would check them (400 naming the parameter).

Everyone has their own views; admins may share one with everyone (``shared``). The list
gives the caller's own and the shared ones, each with ``count``: how many tickets it
matches now for the caller (one ``COUNT`` per view; ``None`` for a view whose filters
are no longer valid, e.g. a category or team since deleted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError as DrfValidationError

from servidesk_shared.errors import ApplicationError
from tickets import selectors, services
from tickets.actors import Actor
from tickets.filters import TicketFilter
from tickets.models import SavedView

#: The list's ordering parameter: kept with the filters, checked by the API layer
#: against the orderings its pagination offers.
ORDERING_PARAM: Final = "ordering"

#: At most this many parameters in one view, and this many values for one of them.
MAX_PARAMETERS: Final = 30
MAX_VALUES: Final = 50
VALUE_MAX_LENGTH: Final = 200


def as_query(filters: Mapping[str, Any]) -> MultiValueDict[str, str]:
    """``filters`` as the list endpoint's query parameters (``ordering`` left out)."""
    return MultiValueDict(
        {
            name: list(value) if isinstance(value, list) else [value]
            for name, value in filters.items()
            if name != ORDERING_PARAM
        }
    )


def clean_filters(*, actor: Actor, filters: Any) -> dict[str, str | list[str]]:
    """``filters`` checked as the list endpoint checks its parameters."""

    def refuse(message: str) -> ApplicationError:
        return services.field_error("filters", message)

    if not isinstance(filters, dict):
        raise refuse(_("Filters are an object of the list's query parameters."))
    if len(filters) > MAX_PARAMETERS:
        raise refuse(_("At most %(limit)d parameters.") % {"limit": MAX_PARAMETERS})
    allowed = {*TicketFilter.base_filters, ORDERING_PARAM}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise refuse(
            _("Unknown parameters: %(names)s. Use any of: %(allowed)s.")
            % {"names": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))}
        )
    clean: dict[str, str | list[str]] = {}
    for name, value in filters.items():
        values = value if isinstance(value, list) else [value]
        if (
            not values
            or len(values) > MAX_VALUES
            or not all(isinstance(item, str) and len(item) <= VALUE_MAX_LENGTH for item in values)
        ):
            raise refuse(
                _("The value of %(name)s must be a string or a list of strings.") % {"name": name}
            )
        clean[name] = list(values) if isinstance(value, list) else value
    if isinstance(clean.get(ORDERING_PARAM), list):
        raise refuse(_("Give one ordering."))
    try:
        selectors.ticket_filtered(actor=actor, filters=as_query(clean))
    except (ValidationError, DrfValidationError) as exc:
        detail = exc.detail if isinstance(exc, DrfValidationError) else exc.message_dict
        words = (
            f"{key}: {' '.join(str(m) for m in messages)}"
            for key, messages in (detail.items() if isinstance(detail, dict) else [])
        )
        raise refuse(" ".join(words) or _("These filters are not valid.")) from None
    return clean


# --- reads ----------------------------------------------------------------------------


def views_visible_to(actor: Actor) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(owner_id=actor.id) | Q(shared=True))


def count_of(*, actor: Actor, view: SavedView) -> tuple[int | None, bool]:
    """How many tickets ``view`` matches now for ``actor`` (one query, capped at
    ``selectors.COUNT_CAP``) and whether that is a lower bound; ``(None, False)`` if its
    filters are no longer valid."""
    try:
        tickets = selectors.ticket_filtered(actor=actor, filters=as_query(view.filters))
    except (ValidationError, DrfValidationError):
        return None, False
    return selectors.capped_count(tickets)


def _set_count(*, actor: Actor, view: SavedView) -> None:
    view.count, view.count_capped = count_of(actor=actor, view=view)  # type: ignore[attr-defined]


def view_list(*, actor: Actor) -> list[SavedView]:
    """The caller's views and the shared ones, by name, each with ``count``."""
    views = list(views_visible_to(actor).order_by("name", "id"))
    for view in views:
        _set_count(actor=actor, view=view)
    return views


# --- writes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewData:
    name: str
    filters: dict[str, Any]
    shared: bool


def _check_may_share(actor: Actor, shared: bool) -> None:
    if shared and not actor.is_admin:
        raise services.forbidden(_("Only admins can share views."))


def _check_may_change(actor: Actor, view: SavedView) -> None:
    if view.shared and not actor.is_admin:
        raise services.forbidden(_("Only admins can change shared views."))
    if not view.shared and view.owner_id != actor.id:
        raise services.forbidden(_("Only its owner can change this view."))


@transaction.atomic
def view_create(*, actor: Actor, data: ViewData) -> SavedView:
    _check_may_share(actor, data.shared)
    view = SavedView.objects.create(
        name=data.name,
        filters=clean_filters(actor=actor, filters=data.filters),
        shared=data.shared,
        owner_id=actor.id,
        created_at=timezone.now(),
    )
    _set_count(actor=actor, view=view)
    return view


@transaction.atomic
def view_update(*, actor: Actor, view_id: int, changes: dict[str, Any]) -> SavedView:
    """Change any of ``name``, ``filters`` and ``shared``."""
    view = views_visible_to(actor).select_for_update().filter(pk=view_id).first()
    if view is None:
        raise Http404
    _check_may_change(actor, view)
    if "shared" in changes:
        _check_may_share(actor, changes["shared"])
        view.shared = changes["shared"]
    if "name" in changes:
        view.name = changes["name"]
    if "filters" in changes:
        view.filters = clean_filters(actor=actor, filters=changes["filters"])
    view.save()
    _set_count(actor=actor, view=view)
    return view


@transaction.atomic
def view_delete(*, actor: Actor, view_id: int) -> None:
    view = views_visible_to(actor).select_for_update().filter(pk=view_id).first()
    if view is None:
        raise Http404
    _check_may_change(actor, view)
    view.delete()
