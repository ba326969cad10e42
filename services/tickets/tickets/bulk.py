"""Bulk actions: one action on up to ``MAX_IDS`` tickets, each checked on its own.

``bulk_apply`` answers one ``Outcome`` per id given, in the order given. Each ticket goes
through the ticket service of the action (``tickets.services``) inside its own savepoint,
so every rule of that service holds for it (workflow, permissions, merged tickets) and a
refusal leaves the others applied; each changed ticket publishes its own event, as any
single change does. An id the caller cannot see, or that does not exist, is ``ok:
false`` with ``NOT_FOUND``; an id given twice is applied once and answered twice.

The tickets are read and locked in one query first (in id order, as every write that
locks several tickets does, so two bulk requests cannot deadlock), and for the tag
actions their current tags in one more: the services then find their rows already
locked, and no ticket costs a read beyond what its service needs.

Actions and their ``value``:

- ``assign``: a user id, or null to unassign;
- ``status``: a status; a ticket already in it is left as it is (``ok: true``);
- ``priority``: a priority; ``team``: a team id, or null for no team;
- ``add_tags`` / ``remove_tags``: tag names (normalised as ``tickets.tags`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from servidesk_shared.errors import ApplicationError
from servidesk_shared.vocabulary import REACHABLE_STATUSES
from tickets import selectors, services
from tickets import tags as tagging
from tickets.actors import Actor
from tickets.models import DirectoryUser, Priority, Role, Team, Ticket

MAX_IDS: Final = 500
ACTIONS: Final = ("assign", "status", "priority", "team", "add_tags", "remove_tags")


def not_found() -> str:
    return _("Not found.")


@dataclass(frozen=True)
class Outcome:
    id: int
    ok: bool
    #: What refused the change, for a person to read; ``None`` when ``ok``.
    error: str | None = None


def _message(exc: ApplicationError) -> str:
    """A refusal's words: a field error's own message rather than the generic one."""
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        return " ".join(str(message) for messages in fields.values() for message in messages)
    return exc.message


#: ``change(ticket, tag names of it)``: apply the action to one locked ticket.
Change = Callable[[Ticket, list[str]], None]


def _change(*, actor: Actor, action: str, value: Any) -> Change:
    """What ``action`` with ``value`` (already checked) does to one ticket."""

    def assign(ticket: Ticket, tags: list[str]) -> None:
        services.ticket_assign(ticket_id=ticket.pk, actor=actor, assignee_id=value)

    def status(ticket: Ticket, tags: list[str]) -> None:
        if ticket.status != value:
            services.ticket_change_status(ticket_id=ticket.pk, actor=actor, status=value)

    def update(changes: dict[str, Any]) -> Change:
        def apply(ticket: Ticket, tags: list[str]) -> None:
            services.ticket_update(ticket_id=ticket.pk, actor=actor, changes=changes)

        return apply

    def add_tags(ticket: Ticket, tags: list[str]) -> None:
        wanted = [*tags, *(name for name in value if name not in tags)]
        if wanted != tags:
            services.ticket_update(ticket_id=ticket.pk, actor=actor, changes={"tags": wanted})

    def remove_tags(ticket: Ticket, tags: list[str]) -> None:
        kept = [name for name in tags if name not in value]
        if kept != tags:
            services.ticket_update(ticket_id=ticket.pk, actor=actor, changes={"tags": kept})

    changes: dict[str, Change] = {
        "assign": assign,
        "status": status,
        "priority": update({"priority": value}),
        "team": update({"team": value}),
        "add_tags": add_tags,
        "remove_tags": remove_tags,
    }
    return changes[action]


@transaction.atomic
def bulk_apply(*, actor: Actor, ids: Sequence[int], action: str, value: Any) -> list[Outcome]:
    """Apply ``action`` with ``value`` to each ticket of ``ids``.

    ``value`` is already checked for its action (a status, a priority rank, a ``Team`` or
    None, a user id or None, clean tag names); only staff may call this (403 otherwise).
    """
    if not actor.is_staff:
        raise services.forbidden(_("Only technicians and admins can change tickets in bulk."))
    unique = list(dict.fromkeys(ids))
    tickets = {
        ticket.pk: ticket
        for ticket in selectors.tickets_visible_to(actor)
        .filter(pk__in=unique)
        .select_for_update()
        .only("id", "status")
        .order_by("id")
    }
    tags = tagging.names_by_ticket(list(tickets)) if action in ("add_tags", "remove_tags") else {}
    change = _change(actor=actor, action=action, value=value)
    outcomes: dict[int, Outcome] = {}
    for ticket_id in unique:
        ticket = tickets.get(ticket_id)
        if ticket is None:
            outcomes[ticket_id] = Outcome(ticket_id, ok=False, error=not_found())
            continue
        try:
            with transaction.atomic():
                change(ticket, tags.get(ticket_id, []))
        except ApplicationError as exc:
            outcomes[ticket_id] = Outcome(ticket_id, ok=False, error=_message(exc))
        except Http404:
            outcomes[ticket_id] = Outcome(ticket_id, ok=False, error=not_found())
        else:
            outcomes[ticket_id] = Outcome(ticket_id, ok=True)
    return [outcomes[ticket_id] for ticket_id in ids]


def _refuse(message: str) -> ApplicationError:
    return services.field_error("value", message)


def _assignee(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise _refuse(_("Give a user id, or null to unassign."))
    user_id = str(value).strip()
    if not DirectoryUser.objects.filter(
        pk=user_id, is_active=True, role__in=(Role.TECHNICIAN, Role.ADMIN)
    ).exists():
        raise _refuse(_("There is no active technician with this id."))
    return user_id


def _status(value: Any) -> str:
    if value not in REACHABLE_STATUSES:
        raise _refuse(
            _("The status must be one of: %(choices)s.")
            % {"choices": ", ".join(REACHABLE_STATUSES)}
        )
    return str(value)


def _priority(value: Any) -> int:
    if value not in Priority.api_keys():
        raise _refuse(
            _("The priority must be one of: %(choices)s.")
            % {"choices": ", ".join(Priority.api_keys())}
        )
    return int(Priority.from_key(value))


def _team(value: Any) -> Team | None:
    if value is None:
        return None
    team = None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        team = Team.objects.filter(pk=value).first()
    if team is None:
        raise _refuse(_("There is no team with id %(id)s.") % {"id": value})
    return team


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(_("Give a list of tag names."))
    try:
        names = tagging.clean(value)
    except tagging.TagError as exc:
        raise _refuse(str(exc)) from None
    if not names:
        raise _refuse(_("Give a list of tag names."))
    return names


_CHECKS: Final[dict[str, Callable[[Any], Any]]] = {
    "assign": _assignee,
    "status": _status,
    "priority": _priority,
    "team": _team,
    "add_tags": _tags,
    "remove_tags": _tags,
}


def check_value(*, action: str, value: Any) -> Any:
    """``value`` for ``action`` as the services take it; ``ApplicationError`` (400 on
    ``value``) when it cannot be one. Called before any ticket is touched."""
    return _CHECKS[action](value)
