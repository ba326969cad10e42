"""Monitoring for admins (issue 22): the email and SMS delivery log (filter the failed ones,
send one again), each service's dead letters (replay or discard one) and the audit trail of
changes to users and API keys.

Every page is a table with the API's pager; its filters are a GET form whose values go to
the API as they are checked here. A change is a POST that comes back to the page it came
from with a message (``report_change``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, Final, TypeVar
from urllib.parse import unquote

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from portal.api import ServiceUnavailableError, client_for
from portal.api import monitoring as api
from portal.api.errors import SERVICE_LABELS
from portal.api.types import Page
from portal.decorators import admin_required
from portal.middleware import note_unavailable
from portal.views.common import report_change

T = TypeVar("T")

BLANK: Final = [("", gettext_lazy("Any"))]

DELIVERY_STATUSES: Final = {
    "queued": gettext_lazy("Queued"),
    "sent": gettext_lazy("Sent"),
    "delivered": gettext_lazy("Delivered"),
    "failed": gettext_lazy("Failed"),
    "skipped": gettext_lazy("Skipped"),
}
WEBHOOK_DELIVERY_STATUSES: Final = ("queued", "delivered", "failed")
CHANNELS: Final = {"email": gettext_lazy("Email"), "sms": gettext_lazy("SMS")}
AUDIT_ACTIONS: Final = {
    "role_changed": gettext_lazy("Role changed"),
    "activated": gettext_lazy("Activated"),
    "deactivated": gettext_lazy("Deactivated"),
    "email_changed": gettext_lazy("Email changed"),
    "api_key_created": gettext_lazy("API key created"),
    "api_key_revoked": gettext_lazy("API key revoked"),
    "api_key_exchanged": gettext_lazy("API key exchanged for a token"),
}
DEAD_LETTER_REASONS: Final = {
    "unparseable": gettext_lazy("Unreadable message"),
    "invalid": gettext_lazy("Invalid event"),
    "wrong_producer": gettext_lazy("Unexpected sender"),
    "wrong_routing_key": gettext_lazy("Unexpected event type"),
    "handler_failed": gettext_lazy("Could not be applied"),
    "rejected": gettext_lazy("Rejected"),
    "expired": gettext_lazy("Expired"),
}


class DeliveryFilterForm(forms.Form):
    mark_optional = False
    status = forms.ChoiceField(
        label=gettext_lazy("State"),
        required=False,
        choices=BLANK + list(DELIVERY_STATUSES.items()),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), required=False, choices=BLANK + list(CHANNELS.items())
    )
    since = forms.DateField(
        label=gettext_lazy("Since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class AuditFilterForm(forms.Form):
    mark_optional = False
    action = forms.ChoiceField(
        label=gettext_lazy("Action"), required=False, choices=BLANK + list(AUDIT_ACTIONS.items())
    )
    user = forms.IntegerField(
        label=gettext_lazy("User id"),
        required=False,
        min_value=1,
        max_value=2**53,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    since = forms.DateField(
        label=gettext_lazy("Since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _start_of(day: date) -> str:
    """The first moment of ``day`` in the site's time zone, as the APIs read it."""
    return timezone.make_aware(datetime.combine(day, time.min)).isoformat()


def _params(form: forms.Form, request: HttpRequest) -> dict[str, str]:
    """The form's checked filters as API parameters, plus the page's cursor."""
    params = {"cursor": request.GET.get("cursor", "")}
    if not form.is_valid():
        return params
    for name, value in form.cleaned_data.items():
        if value in (None, ""):
            continue
        params[name] = _start_of(value) if isinstance(value, date) else str(value)
    return params


def _load(request: HttpRequest, call: Callable[[], T], empty: T) -> tuple[T, int]:
    """``call()``'s answer, or ``empty`` (503) when its service is unavailable."""
    try:
        return call(), 200
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return empty, 503


# --- Email and SMS deliveries -----------------------------------------------------------


@admin_required
@require_GET
def deliveries(request: HttpRequest) -> HttpResponse:
    """The email and SMS delivery log, newest first, with filters; a failed one can be
    sent again."""
    filters = DeliveryFilterForm(request.GET)
    params = _params(filters, request)
    client = client_for(request)
    empty: Page[api.NotificationDelivery] = Page(results=[])
    page, status = _load(request, lambda: api.deliveries(client, params), empty)
    if filters.errors:
        status = 400
    context = {
        "filters": filters,
        "page": page,
        "statuses": DELIVERY_STATUSES,
        "channels": CHANNELS,
    }
    return render(request, "portal/admin/deliveries.html", context, status=status)


@admin_required
@require_POST
def delivery_retry(request: HttpRequest, delivery_id: str) -> HttpResponse:
    client = client_for(request)
    return report_change(
        request,
        lambda: api.retry_delivery(client, delivery_id),
        _("The delivery is queued to be sent again."),
    )


def webhook_delivery_filter(request: HttpRequest) -> dict[str, str]:
    """The webhook page's delivery filter (``?status=failed``) as the API's parameter."""
    wanted = request.GET.get("status", "")
    return {"status": wanted} if wanted in WEBHOOK_DELIVERY_STATUSES else {}


# --- Dead letters -----------------------------------------------------------------------


def _service(request: HttpRequest) -> str:
    wanted = request.GET.get("service", "")
    return wanted if wanted in api.CONSUMERS else api.CONSUMERS[0]


@admin_required
@require_GET
def dead_letters(request: HttpRequest) -> HttpResponse:
    """One service's dead letters (a tab per consuming service), oldest first."""
    service = _service(request)
    client = client_for(request)
    params = {"cursor": request.GET.get("cursor", "")}
    empty = api.DeadLetterPage(results=[])
    page, status = _load(request, lambda: api.dead_letters(client, service, params), empty)
    context = {
        "service": service,
        "services": [(name, SERVICE_LABELS[name]) for name in api.CONSUMERS],
        "page": page,
        "reasons": DEAD_LETTER_REASONS,
    }
    return render(request, "portal/admin/dead_letters.html", context, status=status)


def _dead_letter_action(
    request: HttpRequest, service: str, act: Callable[[], Any], done: str
) -> HttpResponse:
    if service not in api.CONSUMERS:
        raise Http404
    return report_change(request, act, done)


@admin_required
@require_POST
def dead_letter_replay(request: HttpRequest, service: str, key: str) -> HttpResponse:
    client = client_for(request)
    return _dead_letter_action(
        request,
        service,
        lambda: api.replay_dead_letter(client, service, unquote(key)),
        _("The message is sent back to be processed again."),
    )


@admin_required
@require_POST
def dead_letter_discard(request: HttpRequest, service: str, key: str) -> HttpResponse:
    client = client_for(request)
    return _dead_letter_action(
        request,
        service,
        lambda: api.discard_dead_letter(client, service, unquote(key)),
        _("The message is discarded."),
    )


# --- Audit trail ------------------------------------------------------------------------


@admin_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    """Changes to users (role, activation, email) and API keys, newest first."""
    filters = AuditFilterForm(request.GET)
    params = _params(filters, request)
    client = client_for(request)
    empty: Page[api.AuditEntry] = Page(results=[])
    page, status = _load(request, lambda: api.audit_trail(client, params), empty)
    if filters.errors:
        status = 400
    context: dict[str, Any] = {"filters": filters, "page": page, "actions": AUDIT_ACTIONS}
    return render(request, "portal/admin/audit.html", context, status=status)
