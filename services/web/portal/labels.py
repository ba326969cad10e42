"""Words for the APIs' codes (moves, history fields, SLA states, sign-in errors), in the
UI's language; statuses, priorities and roles are ``servidesk_shared.vocabulary``'s."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from servidesk_shared.auth import API_KEY_USER_PREFIX
from servidesk_shared.vocabulary import STATUS_LABELS, Status

# Statuses, priorities and roles are named in ``servidesk_shared.vocabulary``.

#: The button that moves a ticket to a status (``closed`` has none: only the desk closes).
MOVE_ACTIONS: dict[str, Promise] = {
    Status.PENDING: _("Put back to pending"),
    Status.IN_PROGRESS: _("Start working"),
    Status.WAITING: _("Wait for the client"),
    Status.RESOLVED: _("Mark as resolved"),
}
#: A move whose button says more than its target: ``(from, to)``.
MOVE_ACTIONS_FROM: dict[tuple[str, str], Promise] = {
    (Status.WAITING, Status.IN_PROGRESS): _("Resume working"),
    (Status.RESOLVED, Status.IN_PROGRESS): _("Reopen"),
}


def move_action(from_status: str, to_status: str) -> str:
    """The words of the button that moves a ticket from ``from_status`` to ``to_status``."""
    found = MOVE_ACTIONS_FROM.get((from_status, to_status)) or MOVE_ACTIONS.get(to_status)
    return str(found) if found is not None else str(STATUS_LABELS.get(to_status, to_status))


#: History entries the desk itself made (``actor_id``), not a person.
SYSTEM_ACTORS: dict[str, Promise] = {
    "sla:escalation": _("Escalation rule"),
    "sla:auto_close": _("Automatic close"),
}


def integration_name(user_id: object) -> str | None:
    """An API key's caller (``apikey:<id>``) in words, "Integration (key 7)"; None for
    anyone else. No directory knows these callers, so nothing is looked up."""
    text = str(user_id or "")
    if not text.startswith(API_KEY_USER_PREFIX):
        return None
    return _("Integration (key %(id)s)") % {"id": text.removeprefix(API_KEY_USER_PREFIX)}


#: How a team hands out its new tickets (``assignment``).
ASSIGNMENT_RULES: dict[str, Promise] = {
    "manual": _("By hand"),
    "round_robin": _("In turn (round robin)"),
    "least_open": _("To whoever has the fewest open tickets"),
}
LANGUAGES: dict[str, Promise] = {"es": _("Spanish"), "en": _("English")}
HISTORY_FIELDS: dict[str, Promise] = {
    "status": _("Status"),
    "assignee_id": _("Assignee"),
    "priority": _("Priority"),
    "category": _("Category"),
    "title": _("Title"),
    "description": _("Description"),
    "team_id": _("Team"),
    "tags": _("Tags"),
    "merged_into": _("Merged into"),
    "merged_from": _("Merged from"),
    "follow_up_of_id": _("Follow-up of"),
    "rating": _("Satisfaction"),
}
SLA_STATES: dict[str, Promise] = {
    "breached": _("SLA breached"),
    "due_soon": _("Due soon"),
    "paused": _("SLA paused"),
    "on_track": _("On track"),
    "closed": _("Closed"),
}
#: The queue's SLA filter (the API's ``sla``): the first response or resolution clock.
SLA_FILTERS: dict[str, Promise] = {
    "breached": _("Breached"),
    "warning": _("At risk (past 80 %)"),
    "running": _("Clock running"),
}
#: A client's satisfaction answer.
RATINGS: dict[str, Promise] = {
    "good": _("Good"),
    "bad": _("Bad"),
}
RATING_ICONS: dict[str, str] = {"good": "\U0001f44d", "bad": "\U0001f44e"}
#: Webhook event types in words (an event type without one is shown by its code).
WEBHOOK_EVENTS: dict[str, Promise] = {
    "ticket.created": _("A ticket is opened"),
    "ticket.updated": _("A ticket is edited (title, team, tags…)"),
    "ticket.assigned": _("A ticket is assigned"),
    "ticket.status_changed": _("A ticket changes status"),
    "ticket.commented": _("A ticket gets a reply or a note"),
    "ticket.merged": _("A ticket is merged into another"),
    "ticket.closed": _("A ticket is closed"),
    "ticket.rated": _("A client rates a ticket"),
    "ticket.sla_warning": _("A ticket's SLA is at risk"),
    "ticket.sla_breached": _("A ticket's SLA is breached"),
    "team.created": _("A team is created"),
    "team.updated": _("A team is changed"),
    "team.deleted": _("A team is deleted"),
    "user.registered": _("A user account is created"),
    "user.updated": _("A user account is changed"),
    "user.deactivated": _("A user account is deactivated"),
    "mail.bounced": _("A mail to a user bounced"),
}
#: A webhook delivery's ``status``.
DELIVERY_STATES: dict[str, Promise] = {
    "queued": _("Queued"),
    "delivered": _("Delivered"),
    "failed": _("Failed"),
}
SOCIAL_ERRORS: dict[str, Promise] = {
    "cancelled": _("The sign-in was cancelled."),
    "failed": _("The provider could not sign you in. Please try again."),
    "email_required": _("The provider did not share an email address, which we need."),
    "email_in_use": _(
        "An account already uses this email address. Sign in with your password, "
        "or reset it if you forgot it."
    ),
    "inactive": _("This account is deactivated."),
    "unavailable": _("Signing in with this provider is not available right now."),
}

#: Why accounts could not link a provider to a signed-in staff account (``?link_error=``
#: on the way back to the profile).
LINK_ERRORS: dict[str, Promise] = {
    "cancelled": _("Linking was cancelled."),
    "failed": _("The provider could not link your account. Please try again."),
    "unavailable": _("Linking with this provider is not available right now."),
    "already_linked": _("That provider account is already linked to another Servidesk account."),
    "expired": _("The linking request has expired. Please start again."),
    "inactive": _("This account is deactivated."),
    "not_yours": _(
        "This link was started from another account, so nothing was linked. If you did "
        "not start it, someone may have sent it to you: ignore it."
    ),
    "other_browser": _(
        "This link was not started in this browser, so nothing was linked. Please start "
        "again from your profile."
    ),
}


def choices(labels: dict[str, Promise]) -> list[tuple[str, Any]]:
    return list(labels.items())
