"""CSRF on every form of the UI: found from the templates and the URLconf, so a new form
or a new POST view cannot slip in untested.

Each POST form is sent three ways by a browser that enforces CSRF like a real one:
without a token and with a wrong one (403, the friendly "form has expired" page, nothing
sent to any API), and with the page's token (the view runs and makes its API write).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, reverse
from portal import urls as portal_urls

from tests.fakes import FakeApis, page, profile_json, sign_in_client, ticket_json

pytestmark = pytest.mark.django_db

TEMPLATES = Path(portal_urls.__file__).resolve().parent / "templates"
PASSWORD = "Una-clave-larga-42"
EXPIRED = "This form has expired"
ME = profile_json(
    id=1,
    username="admin",
    email="admin@example.com",
    full_name="Admin",
    role="admin",
    language="en",
)


@dataclass(frozen=True)
class FormPost:
    """A valid submission of one form: the URL it posts to and who sends it."""

    kwargs: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    signed_in: bool = True


# Every form of every template, by the URL name it posts to. A template form that posts
# somewhere not listed here fails test_every_post_form_is_listed.
FORMS: dict[str, FormPost] = {
    "login": FormPost(data={"username": "admin", "password": PASSWORD}, signed_in=False),
    "register": FormPost(
        data={
            "username": "neo",
            "email": "neo@example.com",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "language": "es",
        },
        signed_in=False,
    ),
    "password_reset": FormPost(data={"email": "ana@example.com"}, signed_in=False),
    "password_reset_confirm": FormPost(
        kwargs={"uid": "MQ", "token": "c0ffee-42"},
        data={"password": PASSWORD, "password_again": PASSWORD},
        signed_in=False,
    ),
    "logout": FormPost(),
    "set_language": FormPost(data={"language": "en"}),
    "profile": FormPost(data={"full_name": "Admin", "email": "a@example.com", "language": "en"}),
    "password_change": FormPost(
        data={"current_password": "old-one-here", "password": PASSWORD, "password_again": PASSWORD}
    ),
    "email_send_confirmation": FormPost(),
    "phone_send_code": FormPost(),
    "phone_verify": FormPost(data={"sms-code": "123456"}),
    "social_link": FormPost(kwargs={"provider": "google"}),
    "notifications_read_all": FormPost(),
    "notification_open": FormPost(kwargs={"notification_id": "11"}, data={"ticket_id": "41"}),
    "ticket_create": FormPost(
        data={
            "client_q": "ana",
            "client_id": "7",
            "title": "No imprime",
            "description": "Hoja en blanco.",
            "priority": "medium",
        }
    ),
    "ticket_detail": FormPost(kwargs={"ticket_id": "41"}, data={"body": "¿Alguna novedad?"}),
    "ticket_edit": FormPost(
        kwargs={"ticket_id": "41"},
        data={"title": "No imprime", "description": "Hoja en blanco.", "priority": "high"},
    ),
    "ticket_status": FormPost(kwargs={"ticket_id": "41"}, data={"status": "in_progress"}),
    "ticket_assign": FormPost(kwargs={"ticket_id": "41"}, data={"assignee_id": "me"}),
    "admin_users": FormPost(
        data={
            "username": "tecnica",
            "email": "tecnica@example.com",
            "role": "technician",
            "password": PASSWORD,
        }
    ),
    "admin_user_role": FormPost(kwargs={"user_id": "9"}, data={"role": "technician"}),
    "admin_user_active": FormPost(kwargs={"user_id": "9"}, data={"is_active": "false"}),
    "admin_categories": FormPost(data={"name": "Redes", "slug": "redes"}),
    "admin_category_edit": FormPost(
        kwargs={"slug": "hardware"}, data={"hardware-name": "Hardware", "hardware-is_active": "on"}
    ),
    "admin_sla": FormPost(
        data={
            "priority": "urgent",
            "urgent-first_response_hours": "1",
            "urgent-resolution_hours": "4",
        }
    ),
    "admin_teams": FormPost(data={"name": "Redes", "assignment": "manual"}),
    "admin_team_edit": FormPost(
        kwargs={"team_id": "3"}, data={"name": "Redes", "assignment": "round_robin"}
    ),
    "admin_team_delete": FormPost(kwargs={"team_id": "3"}),
    "report_export_start": FormPost(data={"format": "pdf"}),
    "macros": FormPost(data={"title": "Saludo", "body": "Hola {cliente}"}),
    "macro_edit": FormPost(kwargs={"macro_id": "5"}, data={"title": "Saludo", "body": "Hola"}),
    "macro_delete": FormPost(kwargs={"macro_id": "5"}),
    "ticket_apply_macro": FormPost(kwargs={"ticket_id": "41"}, data={"macro_id": "5"}),
    "ticket_merge": FormPost(kwargs={"ticket_id": "41"}, data={"into": "42"}),
    "ticket_bulk": FormPost(
        data={"bulk-ids": "41", "bulk-action": "status", "bulk-status": "in_progress"}
    ),
    "view_create": FormPost(data={"view-name": "Mías", "query": "assigned=me"}),
    "view_delete": FormPost(kwargs={"view_id": "8"}),
    "availability": FormPost(data={"available": "on"}),
    "admin_calendars": FormPost(
        data={"name": "Oficina", "time_zone": "Europe/Madrid", "mon": "09:00-18:00"}
    ),
    "admin_calendar_edit": FormPost(
        kwargs={"calendar_id": "2"},
        data={"name": "Oficina", "time_zone": "Europe/Madrid", "mon": "09:00-18:00"},
    ),
    "admin_calendar_delete": FormPost(kwargs={"calendar_id": "2"}),
    "csat": FormPost(kwargs={"token": "a-token"}, data={"rating": "good"}, signed_in=False),
    "admin_api_keys": FormPost(data={"name": "CRM", "role": "technician"}),
    "admin_api_key_revoke": FormPost(kwargs={"key_id": "7"}),
    "admin_webhooks": FormPost(data={"url": "https://hooks.example.com/", "events": "*"}),
    "admin_webhook": FormPost(
        kwargs={"webhook_id": "4"}, data={"url": "https://hooks.example.com/", "events": "*"}
    ),
    "admin_webhook_active": FormPost(kwargs={"webhook_id": "4"}, data={"active": "false"}),
    "admin_webhook_rotate_secret": FormPost(kwargs={"webhook_id": "4"}),
    "admin_webhook_delete": FormPost(kwargs={"webhook_id": "4"}),
    "admin_webhook_redeliver": FormPost(kwargs={"webhook_id": "4", "delivery_id": "31"}),
    "admin_delivery_retry": FormPost(kwargs={"delivery_id": "12"}),
    "admin_dead_letter_replay": FormPost(
        kwargs={"service": "tickets", "key": "0b6c4f0e-8f1e-4f4e-9a53-0b5f1d2c3e4a"}
    ),
    "admin_dead_letter_discard": FormPost(
        kwargs={"service": "tickets", "key": "0b6c4f0e-8f1e-4f4e-9a53-0b5f1d2c3e4a"}
    ),
}

_FORM_TAG = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_URL_NAME = re.compile(r"""\{%\s*url\s+['"]portal:([\w-]+)['"]""")


def template_forms() -> list[tuple[str, str, str]]:
    """``(template, url name, form body)`` of every ``method="post"`` form in the templates.

    A form without an action posts to the page that shows it, named after the template's
    view (the only two: the reply form on a ticket page and the password-reset form).
    """
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for attrs, body in _FORM_TAG.findall(text):
            if not re.search(r"""method=["']post["']""", attrs, re.I):
                continue
            named = _URL_NAME.search(attrs)
            name = named[1] if named else _SELF_POSTING[path.relative_to(TEMPLATES).as_posix()]
            found.append((path.relative_to(TEMPLATES).as_posix(), name, body))
    return found


_SELF_POSTING = {
    "portal/tickets/detail.html": "ticket_detail",
    "portal/auth/password_reset_confirm.html": "password_reset_confirm",
}


def portal_patterns() -> list[URLPattern]:
    return [p for p in portal_urls.urlpatterns if isinstance(p, URLPattern)]


def sample_path(pattern: URLPattern) -> str:
    """The pattern's URL with a plausible value for every path parameter."""
    samples = {
        "notification_id": "11",
        "ticket_id": "41",
        "user_id": "9",
        "slug": "hardware",
        "provider": "google",
        "token": "a-token",
        "team_id": "3",
        "macro_id": "5",
        "view_id": "8",
        "calendar_id": "2",
        "key_id": "7",
        "webhook_id": "4",
        "delivery_id": "31",
        "job_id": "7f1c2a9e-3b7d-4e4b-9a43-0c1d2e3f4a5b",
    }
    kwargs = {name: samples.get(name, "png") for name in pattern.pattern.converters}
    return reverse(f"portal:{pattern.name}", kwargs=kwargs)


def serve_everything(apis: FakeApis) -> None:
    """The reads the views make before their write, so each one reaches its write."""
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on("accounts", "GET", "users/", body=page([]))
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": "Hardware"}])
    apis.on("tickets", "GET", "41/", body=ticket_json())
    apis.on("tickets", "GET", "41/comments/", body=page([]))
    apis.on("tickets", "GET", "41/history/", body=page([]))
    apis.on("tickets", "GET", "assignees/", body=[])
    apis.on("tickets", "GET", "clients/", body=[{"id": 7, "name": "Ana Cliente"}])
    apis.on("tickets", "GET", "sla-targets/", body=[])
    apis.on("tickets", "GET", "", body=page([]))
    apis.on("tickets", "GET", "teams/", body=[])
    apis.on("tickets", "GET", "teams/3/", body={"id": 3, "name": "Redes"})
    apis.on("tickets", "GET", "macros/5/", body={"id": 5, "title": "Saludo", "body": "Hola"})
    apis.on("notifier", "GET", "", body=page([]))
    apis.on(
        "tickets",
        "GET",
        "calendars/2/",
        body={"id": 2, "name": "Oficina", "time_zone": "Europe/Madrid"},
    )
    webhook = {"id": 4, "url": "https://hooks.example.com/", "events": ["*"]}
    apis.on("notifier", "GET", "webhooks/4/", body=webhook)
    apis.on("notifier", "GET", "webhooks/4/deliveries/", body=page([]))
    csat = {"ticket": {"number": "SD-1041", "title": "No imprime"}, "rating": None}
    apis.on("tickets", "GET", "csat/a-token/", body=csat)


def browser(*, signed_in: bool) -> Client:
    """A browser that enforces CSRF (Django's test client skips the check by default)."""
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    if signed_in:
        sign_in_client(client, role="admin", user_id=1, username="admin")
    return client


def page_token(client: Client) -> str:
    """The token a page's form carries, as the browser gets it (and its cookie)."""
    signed_in = settings.SESSION_COOKIE_NAME in client.cookies
    html = client.get(reverse("portal:profile" if signed_in else "portal:login")).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found[1]


def writes(apis: FakeApis) -> list[tuple[str, str, str]]:
    return [(c.service, c.method, c.path) for c in apis.calls if c.method != "GET"]


# --- The inventory ------------------------------------------------------------------------


def test_every_post_form_is_listed() -> None:
    in_templates = {name for _, name, _ in template_forms()}
    assert in_templates == set(FORMS), (
        f"forms without a CSRF case: {sorted(in_templates - set(FORMS))}; "
        f"cases without a form: {sorted(set(FORMS) - in_templates)}"
    )


@pytest.mark.parametrize(
    ("template", "name", "body"), template_forms(), ids=lambda v: v if len(v) < 60 else ""
)
def test_every_post_form_carries_the_token(template: str, name: str, body: str) -> None:
    assert "{% csrf_token %}" in body, f"a form in {template} (to {name}) has no csrf_token"


def test_no_view_is_exempt_from_csrf() -> None:
    exempt = [p.name for p in portal_patterns() if getattr(p.callback, "csrf_exempt", False)]
    assert exempt == []
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize("pattern", portal_patterns(), ids=lambda p: p.name)
def test_any_post_without_a_token_is_refused_before_the_view(
    pattern: URLPattern, apis: FakeApis
) -> None:
    # Every route, also those without a form: nothing answers a forged POST.
    serve_everything(apis)
    response = browser(signed_in=True).post(sample_path(pattern), {"x": "1"})
    assert response.status_code == 403
    assert EXPIRED in response.content.decode()
    assert writes(apis) == []


# --- Each form: refused without or with a wrong token, accepted with the right one -------


@pytest.mark.parametrize("name", sorted(FORMS))
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_a_form_without_the_right_token_is_refused(name: str, token: str, apis: FakeApis) -> None:
    serve_everything(apis)
    form = FORMS[name]
    client = browser(signed_in=form.signed_in)
    page_token(client)  # the browser holds a CSRF cookie, as after showing the form
    data = dict(form.data)
    if token == "wrong":
        data["csrfmiddlewaretoken"] = "A" * 32  # well formed, not this browser's
    response = client.post(reverse(f"portal:{name}", kwargs=form.kwargs), data)
    assert response.status_code == 403
    html = response.content.decode()
    assert EXPIRED in html  # the friendly page, in the site's layout
    assert "<main" in html
    assert writes(apis) == []


@pytest.mark.parametrize("name", sorted(FORMS))
def test_a_form_with_the_pages_token_is_accepted(name: str, apis: FakeApis) -> None:
    serve_everything(apis)
    form = FORMS[name]
    client = browser(signed_in=form.signed_in)
    data: dict[str, Any] = {**form.data, "csrfmiddlewaretoken": page_token(client)}
    response = client.post(reverse(f"portal:{name}", kwargs=form.kwargs), data)
    assert response.status_code != 403
    assert EXPIRED not in response.content.decode()
    assert writes(apis), f"{name}: the view made no API write"


def test_the_token_also_works_as_a_header(apis: FakeApis) -> None:
    # What a script on the page would send; the cookie alone is never enough.
    serve_everything(apis)
    apis.on("notifier", "POST", "read-all/", 204)
    client = browser(signed_in=True)
    token = page_token(client)
    refused = client.post(reverse("portal:notifications_read_all"))
    accepted = client.post(reverse("portal:notifications_read_all"), HTTP_X_CSRFTOKEN=token)
    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert writes(apis) == [("notifier", "POST", "read-all/")]
