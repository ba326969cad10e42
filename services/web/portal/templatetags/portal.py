"""Template helpers: accessible form fields and the APIs' codes in words."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms, template
from django.utils.formats import number_format

from portal import labels
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


@register.simple_tag
def history_value(
    field_name: str,
    value: str | None,
    people: dict[str, str] | None = None,
    teams: dict[str, str] | None = None,
) -> str:
    """A history entry's value in words: statuses, priorities, people and teams by name."""
    if not value:
        return "—"
    if field_name == "team_id" and teams:
        return teams.get(value, value)
    if field_name == "status":
        return status_label(value)
    if field_name == "priority":
        return priority_label(value)
    if field_name == "assignee_id" and people:
        return people.get(value, value)
    return value


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
