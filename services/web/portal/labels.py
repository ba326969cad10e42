"""Words for the APIs' codes (moves, history fields, SLA states, sign-in errors), in the
UI's language; statuses, priorities and roles are ``servidesk_shared.vocabulary``'s."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from servidesk_shared.vocabulary import Status

# Statuses, priorities and roles are named in ``servidesk_shared.vocabulary``.

#: The button that moves a ticket to a status.
MOVE_ACTIONS: dict[str, Promise] = {
    Status.PENDING: _("Put back to pending"),
    Status.IN_PROGRESS: _("Start working"),
    Status.RESOLVED: _("Mark as resolved"),
}
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
}
SLA_STATES: dict[str, Promise] = {
    "breached": _("SLA breached"),
    "due_soon": _("Due soon"),
    "on_track": _("On track"),
    "closed": _("Closed"),
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
