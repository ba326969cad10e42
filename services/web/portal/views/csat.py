"""Satisfaction: the public page of the rating link in the resolution mail
(``/csat/<token>/``, no sign-in). The token is the credential; tickets checks it.

A link scanner's GET must never record an answer: ``?rating=good|bad`` only preselects it.
The answer is recorded by the form's POST, which a small script sends when the page loads
(``data-autosubmit``); without scripts one click on the preselected button does it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal import forms, labels
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.types import CsatAnswer
from portal.middleware import note_unavailable
from portal.views.common import unavailable_message


def _private(response: HttpResponse) -> HttpResponse:
    """The page of a secret link: never cached, indexed, or sent to another site as a
    Referer. ``same-origin``, not ``no-referrer``: with the latter Chromium sends
    ``Origin: null`` on the page's own POST, which Django's CSRF check refuses."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: HttpRequest, error: ApiError) -> HttpResponse:
    """An expired link (410), too many tries (429), or one that is not valid (else)."""
    if error.status == 410:
        kind, status = "expired", 410
    elif error.status == 429:
        kind, status = "throttled", 429
    else:
        kind, status = "invalid", 404
    context = {"kind": kind, "message": error.message if status == 429 else ""}
    response = render(request, "portal/csat/refused.html", context, status=status)
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return _private(response)


def _invalid_token(token: str) -> bool:
    # "." and ".." would be a path of their own at the API, not a token.
    return not token.strip(".")


@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    if _invalid_token(token):
        return _refused(request, ApiError("tickets", 404, ""))
    tickets = client_for(request).tickets
    form = forms.RatingForm(request.POST if request.method == "POST" else None)
    status = 200
    retry_after: int | None = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                tickets.rate(token, data["rating"], data["comment"])
            except ServiceUnavailableError as exc:
                note_unavailable(request, exc)
                form.add_error(
                    None,
                    _("Your answer was not saved: %(reason)s")
                    % {"reason": unavailable_message(exc)},
                )
                status = 503
            except ApiError as exc:
                if exc.status in (404, 410):
                    return _refused(request, exc)
                # Too many answers from this address (429): the form keeps what was typed.
                forms.show_api_errors(form, exc)
                status, retry_after = (429, exc.retry_after) if exc.status == 429 else (400, None)
            else:
                messages.success(request, _("Thank you! Your answer is saved."))
                return redirect(reverse("portal:csat", args=[token]))
    try:
        answer = tickets.csat(token)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        response = render(request, "portal/unavailable.html", {"error": exc}, status=503)
        return _private(response)
    except ApiError as exc:
        return _refused(request, exc)
    context = _context(request, answer, form) | {"token": token}
    response = render(request, "portal/csat/rate.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return _private(response)


def _context(request: HttpRequest, answer: CsatAnswer, form: forms.RatingForm) -> dict[str, Any]:
    linked = request.GET.get("rating", "") if request.method == "GET" else ""
    preselected = linked if linked in labels.RATINGS else ""
    if not form.is_bound:
        form = forms.RatingForm(initial={"comment": answer.comment or ""})
    chosen = preselected or (form.data.get("rating") if form.is_bound else "") or answer.rating
    return {
        "answer": answer,
        "form": form,
        "preselected": preselected,
        # Recorded by the page's own POST, only when it changes the answer.
        "autosubmit": preselected if preselected and preselected != answer.rating else "",
        "chosen": chosen if chosen in labels.RATINGS else "",
        "ratings": [
            (code, label, labels.RATING_ICONS[code]) for code, label in labels.RATINGS.items()
        ],
    }
