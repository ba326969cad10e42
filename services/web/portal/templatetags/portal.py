"""Template helpers: accessible form fields and the APIs' codes in words."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms, template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from portal import labels
from portal.api.types import DUE_SOON, SlaClock
from servidesk_shared.vocabulary import PRIORITY_LABELS, ROLE_LABELS, STATUS_LABELS

register = template.Library()


@register.inclusion_tag("portal/includes/field.html")
def field(bound: forms.BoundField, **attrs: Any) -> dict[str, Any]:
    """A field with its label, help and errors, tied together for screen readers
    (``aria-describedby``, ``aria-invalid``)."""
    field_id = bound.auto_id
    described = []
    if bound.help_text:
        described.append(f"{field_id}-help")
    if bound.errors:
        described.append(f"{field_id}-errors")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if bound.field.required:
        attrs["required"] = True
    checkbox = isinstance(bound.field.widget, forms.CheckboxInput)
    return {
        "field": bound,
        "widget": bound.as_widget(attrs=attrs),
        "checkbox": checkbox,
        "field_id": field_id,
        # Filters are all optional: saying so on each would be noise.
        "mark_optional": getattr(bound.form, "mark_optional", True),
    }


@register.filter
def urlencode_pairs(pairs: list[tuple[str, str]]) -> str:
    """``[(name, value), ...]`` as a query string (a name may repeat)."""
    return urlencode(pairs)


@register.filter
def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


@register.filter
def priority_label(code: str) -> str:
    return str(PRIORITY_LABELS.get(code, code))


@register.filter
def role_label(code: str) -> str:
    return str(ROLE_LABELS.get(code, code))


@register.filter
def language_label(code: str) -> str:
    return str(labels.LANGUAGES.get(code, code))


@register.filter
def sla_label(state: str) -> str:
    return str(labels.SLA_STATES.get(state, state))


@register.filter
def history_field(code: str) -> str:
    return str(labels.HISTORY_FIELDS.get(code, code))


@register.filter
def name_in(code: str, names: dict[str, str] | None) -> str:
    """``code``'s name in ``names`` (a slug → name map), or the code itself."""
    return (names or {}).get(code, code)


@register.filter
def person_name(user_id: str | None, name: str | None = None) -> str:
    """Who a user id is, for an author, a client or an assignee: an API key's caller as an
    integration ("Integration (key 7)"), else ``name`` (the API's), else "" (the template
    says "Support team" or "—")."""
    return labels.integration_name(user_id) or name or ""


@register.filter
def person_in(user_id: str, people: dict[str, str] | None) -> str:
    """``user_id``'s name in ``people`` (ids → names), an API key's caller as an
    integration, or the id itself."""
    return labels.integration_name(user_id) or (people or {}).get(user_id, user_id)


@register.simple_tag
def history_actor(
    actor_id: str | None,
    people: dict[str, str] | None = None,
    client_id: str | None = None,
    client_name: str | None = None,
    me: str | None = None,
) -> str:
    """Who made a change: the desk's own rules by name ("Escalation rule"), an API key
    ("Integration (key 7)"), the reader ("you"), the client, a staff member by name, else
    "Support team"; "" when unknown."""
    if not actor_id:
        return ""
    named = labels.SYSTEM_ACTORS.get(actor_id) or labels.integration_name(actor_id)
    if named is not None:
        return str(named)
    if actor_id == me:
        return _("you")
    if actor_id == client_id and client_name:
        return client_name
    if people and actor_id in people:
        return people[actor_id]
    return _("Support team")


@register.simple_tag
def history_value(
    field_name: str,
    value: str | None,
    people: dict[str, str] | None = None,
    teams: dict[str, str] | None = None,
) -> str:
    """A history entry's value in words: statuses, priorities, ratings, people and teams
    by name."""
    if not value:
        return "—"
    if field_name == "assignee_id":
        integration = labels.integration_name(value)
        if integration is not None:
            return integration
    named = {"team_id": teams, "assignee_id": people}.get(field_name)
    if named:
        return named.get(value, value)
    words = {"status": status_label, "priority": priority_label, "rating": rating_label}
    said = words.get(field_name)
    return said(value) if said is not None else value


def _rounded(value: float, digits: int) -> str:
    """``value`` rounded half up to ``digits`` decimals, in the current locale."""
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return number_format(exact, digits, use_l10n=True)


@register.filter
def percent(ratio: float | None, digits: int = 1) -> str:
    """0.8731 → "87.3 %" (in the current locale: "87,3 %" in Spanish)."""
    if ratio is None:
        return "—"
    return f"{_rounded(ratio * 100, digits)}\u00a0%"


@register.filter
def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return _rounded(value, 1)


@register.filter
def rating_label(code: str | None) -> str:
    return str(labels.RATINGS.get(code or "", code or ""))


@register.filter
def rating_icon(code: str | None) -> str:
    return labels.RATING_ICONS.get(code or "", "")


def business_duration(seconds: float) -> str:
    """A span of business time in hours and minutes ("3 h 20 min", "45 min", "2 h"),
    rounded down to the minute."""
    minutes = int(abs(seconds)) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if hours:
        return _("%(hours)s h") % {"hours": hours}
    if minutes:
        return _("%(minutes)s min") % {"minutes": minutes}
    return _("less than 1 min")


def clock_state(clock: SlaClock) -> str:
    """How a clock reads: ``met``, ``paused``, ``overdue`` (late and still running),
    ``missed`` (late and done), ``due_soon`` (under an hour of business time left) or
    ``running``."""
    left = clock.business_seconds_left
    if clock.state == "met":
        return "met"
    if clock.state == "paused":
        return "paused"
    if clock.state == "breached":
        return "overdue" if left is not None and left < 0 else "missed"
    if left is not None and left < 0:
        return "overdue"
    if left is not None and left < DUE_SOON.total_seconds():
        return "due_soon"
    return "running"


@register.inclusion_tag("portal/includes/sla_clock.html")
def sla_clock(clock: SlaClock, label: str, key: str) -> dict[str, Any]:
    """One SLA clock of a ticket, for staff: what is left in business time, how late it
    is, paused or met, and its due time."""
    state = clock_state(clock)
    left = clock.business_seconds_left
    detail = ""
    if state == "met":
        text = _("Met")
    elif state == "missed":
        text = _("Missed")
    elif state == "overdue":
        text = _("Overdue by %(duration)s") % {"duration": business_duration(left or 0)}
    elif state == "paused":
        text = _("Paused (waiting on the client)")
        if left is not None and left > 0:
            detail = _("%(duration)s of business time left when it resumes") % {
                "duration": business_duration(left)
            }
    elif left is not None:
        text = _("%(duration)s of business time left") % {"duration": business_duration(left)}
    else:
        text = _("Running")
    return {
        "clock": clock,
        "label": label,
        "key": key,
        "state": state,
        "text": text,
        "detail": detail,
    }
