"""Administration of integrations: API keys (accounts) and webhook endpoints with their
delivery log (notifier).

A new key, a new endpoint's secret and a rotated secret appear in the answer to the POST
that made them and nowhere else: never in the session, a message, a URL or a log (nor in
an error report's variables). That page is not kept by the browser (``no-store``);
reloading it asks before posting again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms, labels
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.types import ApiKey, Page, Webhook, WebhookDelivery
from portal.decorators import admin_required
from portal.forms import show_api_errors
from portal.middleware import note_unavailable
from portal.views.common import report_change, unavailable_message
from portal.views.monitoring import webhook_delivery_filter

T = TypeVar("T")


def _call(request: HttpRequest, form: Form, call: Callable[[], T]) -> T | None:
    """``call()``'s answer, or None with the reason on ``form`` (next to its fields)."""
    try:
        return call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        form.add_error(None, unavailable_message(exc))
    except ApiError as exc:
        show_api_errors(form, exc)
    return None


def _shown_once(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The page that shows a key or a secret, the one time it is shown."""
    response = render(request, template, context)
    add_never_cache_headers(response)
    return response


def _page(request: HttpRequest, call: Callable[[dict[str, str]], Page[T]]) -> tuple[Page[T], int]:
    """The page of a list the request's ``cursor`` names; an empty one (503) when its
    service is unavailable."""
    try:
        return call({"cursor": request.GET.get("cursor", "")}), 200
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return Page(results=[]), 503


# --- API keys ---------------------------------------------------------------------------


@admin_required
@sensitive_variables("created")
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The keys (not revoked) with their last use, and a form for a new one."""
    accounts = client_for(request).accounts
    create = forms.ApiKeyForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        created: ApiKey | None = _call(
            request, create, lambda: accounts.create_api_key(create.api_data())
        )
        if created is not None:
            return _shown_once(request, "portal/admin/api_key_created.html", {"api_key": created})
    page, status = _page(request, accounts.api_keys)
    if create.errors:
        status = 400
    context = {"create": create, "page": page}
    return render(request, "portal/admin/api_keys.html", context, status=status)


@admin_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    accounts = client_for(request).accounts
    report_change(request, lambda: accounts.revoke_api_key(key_id), _("The API key is revoked."))
    return redirect("portal:admin_api_keys")


# --- Webhooks ---------------------------------------------------------------------------


@admin_required
@sensitive_variables("created", "context")
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    """The endpoints and a form for a new one."""
    notifier = client_for(request).notifier
    create = forms.WebhookForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        created: Webhook | None = _call(
            request, create, lambda: notifier.create_webhook(create.api_data())
        )
        if created is not None:
            context = {"webhook": created, "rotated": False}
            return _shown_once(request, "portal/admin/webhook_secret.html", context)
    page, status = _page(request, notifier.webhooks)
    if create.errors:
        status = 400
    context = {"create": create, "page": page, "event_names": _event_names()}
    return render(request, "portal/admin/webhooks.html", context, status=status)


def _event_names() -> dict[str, str]:
    """Event types in words, for listing an endpoint's ``events``."""
    names = {code: str(words) for code, words in labels.WEBHOOK_EVENTS.items()}
    names[forms.ALL_EVENTS] = _("Every event")
    return names


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """An endpoint: its settings (a form), its delivery log and what can be done to it."""
    notifier = client_for(request).notifier
    webhook = notifier.webhook(webhook_id)
    if request.method == "POST":
        form = forms.WebhookForm(request.POST)
        if form.is_valid():
            saved = _call(
                request, form, lambda: notifier.update_webhook(webhook_id, form.api_data())
            )
            if saved is not None:
                messages.success(request, _("The webhook is saved."))
                return redirect("portal:admin_webhook", webhook_id)
    else:
        form = forms.WebhookForm(initial=forms.WebhookForm.initial_of(webhook))
    deliveries: Page[WebhookDelivery]
    shown = webhook_delivery_filter(request)
    deliveries, status = _page(
        request, lambda params: notifier.webhook_deliveries(webhook_id, params | shown)
    )
    if form.errors:
        status = 400
    context = {
        "webhook": webhook,
        "form": form,
        "page": deliveries,
        "event_names": _event_names(),
        "delivery_states": labels.DELIVERY_STATES,
        "delivery_filter": shown.get("status", ""),
    }
    return render(request, "portal/admin/webhook_detail.html", context, status=status)


@admin_required
@require_POST
def webhook_active(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """Switch an endpoint on (its failures are forgotten, queued deliveries resume) or off."""
    active = request.POST.get("active") == "true"
    done = _("The webhook is enabled.") if active else _("The webhook is disabled.")
    notifier = client_for(request).notifier
    report_change(request, lambda: notifier.update_webhook(webhook_id, {"active": active}), done)
    return redirect("portal:admin_webhook", webhook_id)


@admin_required
@sensitive_variables("webhook", "context")
@require_POST
def webhook_rotate_secret(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """A new secret, shown once; the old one signs nothing more."""
    notifier = client_for(request).notifier
    try:
        webhook = notifier.rotate_webhook_secret(webhook_id)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, exc.message)
    else:
        context = {"webhook": webhook, "rotated": True}
        return _shown_once(request, "portal/admin/webhook_secret.html", context)
    return redirect("portal:admin_webhook", webhook_id)


@admin_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    notifier = client_for(request).notifier
    report_change(
        request, lambda: notifier.delete_webhook(webhook_id), _("The webhook is deleted.")
    )
    return redirect("portal:admin_webhooks")


@admin_required
@require_POST
def webhook_redeliver(request: HttpRequest, webhook_id: str, delivery_id: str) -> HttpResponse:
    """Send a delivery's event again, as a new delivery of the log."""
    notifier = client_for(request).notifier
    report_change(
        request,
        lambda: notifier.redeliver(webhook_id, delivery_id),
        _("Redelivery scheduled."),
    )
    return redirect("portal:admin_webhook", webhook_id)
