"""Canned responses (macros): a title, a body with placeholders, and actions.

A macro belongs to its owner; a ``shared`` one (only admins make, edit or delete those)
is offered to all staff. Staff see their own and the shared ones (``macro_list``); one
they cannot see is not found.

``macro_apply`` posts the body as a comment on a ticket, then applies the actions, all
in one transaction through the ticket services (``tickets.services``), so every rule of
those (workflow, permissions, tags, merged tickets) holds and each change publishes its
own event. A refused action refuses the whole thing with that action's error.

Placeholders are filled by plain substitution of exactly these tokens, in one pass
(``fill``): ``{cliente}``/``{client}`` (the client's name), ``{numero}``/``{number}``
(the ticket's number as shown, ``SD-1042``) and ``{tecnico}``/``{technician}`` (the
caller's name). Nothing else in the text is interpreted: user text is never a template
(``{0.__class__}`` or ``{{ x }}`` stay as typed), and a name that itself looks like a
placeholder is not substituted again.

Actions (``actions``, every key optional): ``status`` (a status), ``priority`` (a
priority), ``team_id`` (a team id, or null for no team), ``add_tags`` (tag names) and
``internal`` (true: post the body as an internal note).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from servidesk_shared.vocabulary import REACHABLE_STATUSES
from tickets import selectors, services
from tickets import tags as tagging
from tickets.actors import Actor
from tickets.models import DirectoryUser, Macro, Priority, Team, Ticket

#: The placeholders, Spanish and English, and what each stands for.
PLACEHOLDERS: Final = {
    "{cliente}": "client",
    "{client}": "client",
    "{numero}": "number",
    "{number}": "number",
    "{tecnico}": "technician",
    "{technician}": "technician",
}
_PLACEHOLDER: Final = re.compile("|".join(re.escape(token) for token in PLACEHOLDERS))


def fill(body: str, *, client: str, number: str, technician: str) -> str:
    """``body`` with each placeholder token replaced by its value, in one pass."""
    values = {"client": client, "number": number, "technician": technician}
    return _PLACEHOLDER.sub(lambda match: values[PLACEHOLDERS[match.group(0)]], body)


# --- reads ----------------------------------------------------------------------------


def macros_visible_to(actor: Actor) -> QuerySet[Macro]:
    """Staff: their own macros and the shared ones; anyone else: none."""
    if not actor.is_staff:
        return Macro.objects.none()
    return Macro.objects.filter(Q(owner_id=actor.id) | Q(shared=True))


def macro_list(*, actor: Actor) -> QuerySet[Macro]:
    """The macros ``actor`` may use, shared ones first, then by title (one query)."""
    return macros_visible_to(actor).order_by("-shared", "title", "id")


def macro_get(*, actor: Actor, macro_id: int) -> Macro:
    try:
        return macros_visible_to(actor).get(pk=macro_id)
    except Macro.DoesNotExist:
        raise Http404 from None


# --- writes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MacroData:
    title: str
    body: str
    shared: bool
    #: Already checked by ``clean_actions``.
    actions: dict[str, Any]


class ActionError(ValueError):
    """Actions that cannot be stored; the message says why (shown to the user)."""


def _status(value: Any) -> str:
    if value not in REACHABLE_STATUSES:
        raise ActionError(
            _("The status must be one of: %(choices)s.")
            % {"choices": ", ".join(REACHABLE_STATUSES)}
        )
    return str(value)


def _priority(value: Any) -> str:
    if value not in Priority.api_keys():
        raise ActionError(
            _("The priority must be one of: %(choices)s.")
            % {"choices": ", ".join(Priority.api_keys())}
        )
    return str(value)


def _team_id(value: Any) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 < value < 2**63
        or not Team.objects.filter(pk=value).exists()
    ):
        raise ActionError(_("There is no team with id %(id)s.") % {"id": value})
    return int(value)


def _add_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ActionError(_("add_tags must be a list of tag names."))
    try:
        return tagging.clean(value)
    except tagging.TagError as exc:
        raise ActionError(str(exc)) from None


def _internal(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ActionError(_("internal must be true or false."))
    return value


_ACTIONS: Final[dict[str, Callable[[Any], Any]]] = {
    "status": _status,
    "priority": _priority,
    "team_id": _team_id,
    "add_tags": _add_tags,
    "internal": _internal,
}
#: The keys ``actions`` may hold.
ACTION_KEYS: Final = tuple(_ACTIONS)


def clean_actions(actions: Mapping[str, Any]) -> dict[str, Any]:
    """``actions`` checked and normalised; ``ActionError`` for anything wrong."""
    unknown = sorted(set(actions) - set(ACTION_KEYS))
    if unknown:
        raise ActionError(
            _("Unknown actions: %(keys)s. Use any of: %(allowed)s.")
            % {"keys": ", ".join(unknown), "allowed": ", ".join(ACTION_KEYS)}
        )
    return {key: check(actions[key]) for key, check in _ACTIONS.items() if key in actions}


def _check_may_share(actor: Actor, shared: bool) -> None:
    if shared and not actor.is_admin:
        raise services.forbidden(_("Only admins can share canned responses."))


def _check_may_change(actor: Actor, macro: Macro) -> None:
    if macro.shared and not actor.is_admin:
        raise services.forbidden(_("Only admins can change shared canned responses."))
    if not macro.shared and macro.owner_id != actor.id:
        raise services.forbidden(_("Only its owner can change this canned response."))


@transaction.atomic
def macro_create(*, actor: Actor, data: MacroData) -> Macro:
    if not actor.is_staff:
        raise services.forbidden(_("Only technicians and admins have canned responses."))
    _check_may_share(actor, data.shared)
    now = timezone.now()
    return Macro.objects.create(
        title=data.title,
        body=data.body,
        shared=data.shared,
        actions=data.actions,
        owner_id=actor.id,
        created_at=now,
        updated_at=now,
    )


@transaction.atomic
def macro_update(*, actor: Actor, macro_id: int, changes: dict[str, Any]) -> Macro:
    """Change any of ``title``, ``body``, ``shared`` and ``actions`` (already checked)."""
    macro = macros_visible_to(actor).select_for_update().filter(pk=macro_id).first()
    if macro is None:
        raise Http404
    _check_may_change(actor, macro)
    if "shared" in changes:
        _check_may_share(actor, changes["shared"])
    for field in ("title", "body", "shared", "actions"):
        if field in changes:
            setattr(macro, field, changes[field])
    macro.updated_at = timezone.now()
    macro.save()
    return macro


@transaction.atomic
def macro_delete(*, actor: Actor, macro_id: int) -> None:
    macro = macros_visible_to(actor).select_for_update().filter(pk=macro_id).first()
    if macro is None:
        raise Http404
    _check_may_change(actor, macro)
    macro.delete()


# --- applying -------------------------------------------------------------------------


def _caller_name(actor: Actor) -> str:
    user = DirectoryUser.objects.filter(pk=actor.id).only("username", "full_name").first()
    return user.display_name if user else ""


@transaction.atomic
def macro_apply(
    *, actor: Actor, ticket_id: int, macro_id: int, expected_version: int | None = None
) -> Ticket:
    """Post the macro's filled body on the ticket, then apply its actions; all or nothing.

    The ticket is locked first and checked against ``expected_version`` (409
    ``stale_version``); each step is the ticket service of its kind, with its own refusals
    (a workflow move not allowed: 409; a merged ticket: 409 ``merged``). Answers the
    ticket as it is after, with its names.
    """
    macro = macro_get(actor=actor, macro_id=macro_id)
    ticket = services.locked(actor=actor, ticket_id=ticket_id)
    services.check_version(ticket, expected_version)
    actions = macro.actions or {}
    body = fill(
        macro.body,
        client=getattr(ticket, "client_name", None) or "",
        number=ticket.reference,
        technician=_caller_name(actor),
    )
    services.comment_create(
        ticket_id=ticket.pk, actor=actor, body=body, internal=bool(actions.get("internal"))
    )
    status = actions.get("status")
    if status is not None and status != ticket.status:
        services.ticket_change_status(ticket_id=ticket.pk, actor=actor, status=status)
    changes: dict[str, Any] = {}
    if "priority" in actions:
        changes["priority"] = Priority.from_key(actions["priority"])
    if "team_id" in actions:
        team_id = actions["team_id"]
        team = None if team_id is None else Team.objects.filter(pk=team_id).first()
        if team_id is not None and team is None:
            raise services.field_error(
                "actions", _("The team of this canned response no longer exists.")
            )
        changes["team"] = team
    if actions.get("add_tags"):
        current = list(ticket.tags.values_list("name", flat=True))
        changes["tags"] = [*current, *actions["add_tags"]]
    if changes:
        services.ticket_update(ticket_id=ticket.pk, actor=actor, changes=changes)
    return selectors.ticket_get(actor=actor, ticket_id=ticket.pk)
