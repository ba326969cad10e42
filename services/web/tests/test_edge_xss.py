"""XSS: a catalogue of payloads in every user-entered field web renders, asserted inert.

Each page is rendered twice with the APIs (faked at the HTTP boundary) returning the same
data: once with plain text in every user-entered field, once with a payload. The payload
page must have exactly the same elements as the plain one (nothing the payload wrote
became markup), no event-handler attribute, no ``javascript:`` URL, and must show the
payload back as text. The browser counterpart, with a real Chromium watching for dialogs,
is tests/test_browser_flows.py::test_user_content_is_rendered_as_text.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from portal.api.session import TOKENS_KEY, USER_KEY

from tests.fakes import (
    FakeApis,
    attachment_json,
    error,
    macro_json,
    page,
    profile_json,
    serve_ticket,
    sign_in_client,
    team_json,
    ticket_json,
    view_json,
)

pytestmark = pytest.mark.django_db

PLAIN = "Texto normal"
PAYLOADS = {
    "script_tag": "<script>alert('xss')</script>",
    "attribute_breakout": '"><img src=x onerror=alert(1)>',
    "double_quoted_handler": '" autofocus onfocus="alert(1)" x="',
    "single_quoted_handler": "' onmouseover='alert(1)' x='",
    "svg_onload": "<svg/onload=alert(1)>",
    "javascript_url": "javascript:alert(document.cookie)",
    "template_syntax": "{{ request.session }}{% csrf_token %}{{ 7|add:73108 }}",
    "closing_tags": "</textarea></title></script><script>alert(1)</script>",
}
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


@dataclass
class Markup(HTMLParser):
    """What a page's HTML would make a browser do: its elements and risky attributes."""

    tags: Counter[str] = field(default_factory=Counter)
    handlers: list[str] = field(default_factory=list)
    script_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            cleaned = "".join((value or "").split()).lower()
            if name in URL_ATTRIBUTES and cleaned.startswith(SCRIPT_SCHEMES):
                self.script_urls.append(f"<{tag} {name}={value!r}>")

    @classmethod
    def of(cls, text: str) -> Markup:
        parsed = cls()
        parsed.feed(text)
        parsed.close()
        return parsed


def signed_in(role: str, *, name: str = "Ana") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    user_id = {"client": 7, "technician": 3, "admin": 1}[role]
    sign_in_client(client, role=role, user_id=user_id, username="ana")
    session = client.session
    session[USER_KEY] = {**session[USER_KEY], "name": name}  # the header shows it
    session.save()
    return client


def profile(text: str, **extra: Any) -> dict[str, Any]:
    free_text = {"username": text, "email": text, "full_name": text, "phone": text}
    return profile_json(is_active=True) | free_text | extra


# --- The pages, each a function of the text every user-entered field holds ----------------
# Each returns the rendered HTML. Slugs and ids stay plain: they are validated where they
# are made (tickets' slug field, the URL converters) and are not free text.


def ticket_list_as_client(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "", body=page([ticket_json(title=text, assignee_name=text)]))
    return signed_in("client", name=text).get("/tickets/").content.decode()


def queue_with_search_echo(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    ticket = ticket_json(title=text, client_name=text, assignee_name=text, assignee_id=3)
    apis.on("tickets", "GET", "", body=page([ticket]))
    return signed_in("technician").get("/tickets/", {"q": text}).content.decode()


def ticket_page_as_admin(apis: FakeApis, text: str) -> str:
    ticket = ticket_json(
        title=text, description=text, client_name=text, assignee_name=text, assignee_id=5
    )
    apis.on("tickets", "GET", "41/", body=ticket)
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    comments = [
        {"id": 1, "author_id": 7, "author_name": text, "body": text, "internal": False,
         "created_at": "2026-03-02T10:00:00Z"},
        {"id": 2, "author_id": 3, "author_name": text, "body": text, "internal": True,
         "created_at": "2026-03-02T10:05:00Z"},
    ]  # fmt: skip
    apis.on("tickets", "GET", "41/comments/", body=page(comments))
    history = [
        {"actor_id": 3, "field": "title", "from": text, "to": text, "at": "2026-03-02T10:06:00Z"},
        {"actor_id": 3, "field": "assignee", "from": None, "to": 5, "at": "2026-03-02T10:07:00Z"},
    ]
    apis.on("tickets", "GET", "41/history/", body=page(history))
    people = [{"id": 5, "username": "tec", "name": text, "role": "technician"}]
    apis.on("tickets", "GET", "assignees/", body=people)
    # File names are typed by whoever uploaded them (an image's name is its thumbnail's alt).
    files = [
        attachment_json(id=5, filename=text, content_type=text),
        attachment_json(id=6, filename=text, content_type="image/png", comment_id=1),
        attachment_json(id=7, filename=text, content_type=text, comment_id=2),
    ]
    apis.on("tickets", "GET", "41/attachments/", body=files)
    return signed_in("admin").get("/tickets/41/").content.decode()


def ticket_form_echo_with_api_errors(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    apis.on("tickets", "POST", "", 400, error(text, {"title": [text], "description": [text]}))
    data = {"title": text, "description": text, "priority": "medium", "category": "hardware"}
    return signed_in("client").post("/tickets/new/", data).content.decode()


def reply_echo_with_api_error(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "41/", body=ticket_json())
    apis.on("tickets", "GET", "41/comments/", body=page([]))
    apis.on("tickets", "GET", "41/history/", body=page([]))
    apis.on("tickets", "POST", "41/comments/", 400, error(text, {"body": [text]}))
    return signed_in("client").post("/tickets/41/", {"body": text}).content.decode()


def api_refusal_as_a_flash_message(apis: FakeApis, text: str) -> str:
    serve_ticket(apis)
    apis.on("tickets", "POST", "41/status/", 409, error(text, code="invalid_transition"))
    client = signed_in("technician")
    client.post("/tickets/41/status/", {"status": "resolved"})
    return client.get("/tickets/41/").content.decode()


def api_refusal_as_an_error_page(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "41/", 403, error(text))
    return signed_in("client").get("/tickets/41/").content.decode()


def notifications(apis: FakeApis, text: str) -> str:
    item = {"id": 11, "event_type": "ticket.commented", "ticket_id": 41, "title": text,
            "body": text, "read": False, "created_at": "2026-03-02T10:00:00Z"}  # fmt: skip
    apis.on("notifier", "GET", "", body=page([item]))
    return signed_in("client").get("/notifications/").content.decode()


def profile_page(apis: FakeApis, text: str) -> str:
    # Unconfirmed contacts and a pending address: every part of the page is shown.
    apis.on("accounts", "GET", "me/", body=profile(text, pending_email=text))
    return signed_in("client", name=text).get("/profile/").content.decode()


def email_confirmation_refusal(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "POST", "me/email/confirm/", 400, error(text, {"token": [text]}))
    return signed_in("client").get("/confirm-email/a-token/").content.decode()


def phone_code_refusal(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "GET", "me/", body=profile(PLAIN, phone="+34600111222"))
    apis.on("accounts", "POST", "me/phone/verify/", 400, error(text, {"code": [text]}))
    return (
        signed_in("client").post("/profile/phone/verify/", {"sms-code": "123456"}).content.decode()
    )


def resend_refusal_as_a_flash_message(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "GET", "me/", body=profile(PLAIN, email="ana@example.com"))
    apis.on("accounts", "POST", "me/email/send-confirmation/", 400, error(text))
    client = signed_in("client")
    client.post("/profile/email/send-confirmation/")
    return client.get("/profile/").content.decode()


def profile_echo_with_api_errors(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "GET", "me/", body=profile(PLAIN))
    apis.on("accounts", "PATCH", "me/", 400, error(text, {"full_name": [text], "phone": [text]}))
    # The phone field holds 32 characters at most: the API's error about it carries the text.
    data = {"full_name": text, "email": "a@example.com", "phone": "+34600111222", "language": "es"}
    return signed_in("client").post("/profile/", data).content.decode()


def admin_users_with_search_echo(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "GET", "users/", body=page([profile(text)]))
    return signed_in("admin").get("/admin/users/", {"q": text}).content.decode()


def admin_categories(apis: FakeApis, text: str) -> str:
    apis.on(
        "tickets",
        "GET",
        "categories/",
        body=[{"slug": "hardware", "name": text, "description": text, "is_active": True}],
    )
    return signed_in("admin").get("/admin/categories/").content.decode()


def reports_dashboard(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    apis.on("tickets", "GET", "assignees/", body=[{"id": 3, "name": text}])
    summary = {
        "period": {"from": "2026-02-01", "to": "2026-03-02", "time_zone": "UTC", "interval": "day"},
        "totals": {"created": 1, "open": 1, "resolved": 0, "reopened": 0, "unassigned": 0},
        "by_status": [{"status": "pending", "label": text, "count": 1}],
        "by_priority": [{"priority": "high", "label": text, "count": 1}],
        "by_category": [{"category": "hardware", "label": text, "count": 1}],
        "first_response": {"median_hours": 1.5, "sla": {"compliance": 0.5}},
        "resolution": {"median_hours": 2.0, "sla": {"compliance": None}},
        "reopen_rate": 0.0,
        "activity": {"backlog_start": 0, "backlog_end": 1},
        "technicians": [
            {"assignee_id": "3", "name": text, "assigned": 1, "open": 1, "resolved": 0,
             "median_resolution_hours": None, "resolution_sla_compliance": None}
        ],
        "csat": {
            "answered": 1, "good": 1, "bad": 0, "score": 1.0, "surveyed": 1, "responded": 1,
            "response_rate": 1.0, "timeline": [],
            "by_technician": [{"assignee_id": "3", "name": text, "answered": 1, "good": 1,
                               "bad": 0, "score": 1.0}],
            "by_team": [{"team_id": "4", "name": text, "deleted": True, "answered": 1}],
            "by_category": [{"category": "hardware", "label": text, "answered": 1},
                            {"category": "red", "label": text, "answered": 1}],
        },
    }  # fmt: skip
    apis.on("reports", "GET", "summary/", body=summary)
    return signed_in("admin").get("/reports/").content.decode()


def register_echo_with_api_errors(apis: FakeApis, text: str) -> str:
    refusal = error(text, {"username": [text], "email": [text]})
    apis.on("accounts", "POST", "auth/register/", 400, refusal)
    data = {
        "username": text,
        "email": "neo@example.com",
        "full_name": text,
        "phone": "+34600111222",
        "password": "Una-clave-larga-42",
        "password_again": "Una-clave-larga-42",
        "language": "es",
    }
    return Client(HTTP_ACCEPT_LANGUAGE="en").post("/register/", data).content.decode()


def login_echo_and_next(apis: FakeApis, text: str) -> str:
    apis.on("accounts", "POST", "auth/token/", 401, error(text, code="no_active_account"))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    return client.post(f"/login/?next={text}", {"username": text, "password": "x"}).content.decode()


def queue_with_tags_teams_and_views(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    apis.on("tickets", "GET", "teams/", body=[team_json(name=text)])
    apis.on("tickets", "GET", "", body=page([ticket_json(title=text, tags=[text, "vpn"])]))
    apis.on("tickets", "GET", "status-counts/", body={"pending": 1, "in_progress": 0,
            "resolved": 0, "total": 1})  # fmt: skip
    views = [view_json(name=text, filters={"q": text, "tag": [text]})]
    apis.on("tickets", "GET", "views/", body=views)
    apis.on("tickets", "GET", "assignees/", body=[{"id": 4, "name": text}])
    client = signed_in("technician")
    results = {"results": [{"id": 41, "ok": False, "error": text}]}
    apis.on("tickets", "POST", "bulk/", body=results)
    client.post(
        "/tickets/bulk/",
        {"bulk-ids": "41", "bulk-number_41": text, "bulk-action": "priority",
         "bulk-priority": "low"},
    )  # fmt: skip
    # A tag filter is at most 50 characters (a longer one is refused, not echoed as a tag).
    return client.get("/tickets/", {"tags": text[:50]}).content.decode()


def ticket_workspace_as_technician(apis: FakeApis, text: str) -> str:
    serve_ticket(apis, team_id=3, tags=[text], version=2)
    apis.on("tickets", "GET", "teams/", body=[team_json(name=text)])
    apis.on("tickets", "GET", "macros/", body=[macro_json(title=text, body=text)])
    comment = {"id": 1, "author_id": 7, "author_name": "Ana", "body": "Hola", "internal": False,
               "created_at": "2026-03-02T10:00:00Z", "merged_from_id": 40,
               "merged_from_number": text}  # fmt: skip
    apis.on("tickets", "GET", "41/comments/", body=page([comment]))
    return signed_in("technician").get("/tickets/41/").content.decode()


def ticket_edit_with_tags_and_teams(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "41/", body=ticket_json(version=2, team_id=3, tags=[text]))
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": text}])
    apis.on("tickets", "GET", "teams/", body=[team_json(name=text)])
    return signed_in("technician").get("/tickets/41/edit/").content.decode()


def admin_teams(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "teams/", body=[team_json(name=text, member_ids=[4], lead_id=4)])
    apis.on("tickets", "GET", "assignees/", body=[{"id": 4, "name": text}])
    apis.on("tickets", "GET", "categories/", body=[{"slug": "red", "name": text}])
    return signed_in("admin").get("/admin/teams/").content.decode()


def canned_responses(apis: FakeApis, text: str) -> str:
    apis.on("tickets", "GET", "teams/", body=[team_json(name=text)])
    macro = macro_json(title=text, body=text, owner_id=3,
                       actions={"team_id": 3, "add_tags": [text]})  # fmt: skip
    apis.on("tickets", "GET", "macros/", body=[macro])
    return signed_in("technician").get("/responses/").content.decode()


PAGES: dict[str, Callable[[FakeApis, str], str]] = {
    f.__name__: f
    for f in (
        ticket_list_as_client,
        queue_with_search_echo,
        ticket_page_as_admin,
        ticket_form_echo_with_api_errors,
        reply_echo_with_api_error,
        api_refusal_as_a_flash_message,
        api_refusal_as_an_error_page,
        notifications,
        profile_page,
        profile_echo_with_api_errors,
        email_confirmation_refusal,
        phone_code_refusal,
        resend_refusal_as_a_flash_message,
        admin_users_with_search_echo,
        admin_categories,
        reports_dashboard,
        register_echo_with_api_errors,
        login_echo_and_next,
        queue_with_tags_teams_and_views,
        ticket_workspace_as_technician,
        ticket_edit_with_tags_and_teams,
        admin_teams,
        canned_responses,
    )
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=list(PAYLOADS))
@pytest.mark.parametrize("render", PAGES.values(), ids=list(PAGES))
def test_user_entered_text_is_inert(
    render: Callable[[FakeApis, str], str], payload: str, apis: FakeApis
) -> None:
    plain = Markup.of(render(apis, PLAIN))
    apis.calls.clear()
    text = render(apis, payload)
    shown = Markup.of(text)
    assert shown.handlers == []
    assert shown.script_urls == []
    # Nothing the payload holds became an element: the same elements as with plain text.
    assert shown.tags == plain.tags, (shown.tags - plain.tags) + (plain.tags - shown.tags)
    # And it was on the page, as text (so the page really rendered the field).
    assert payload in html.unescape(text)


@pytest.mark.parametrize("render", PAGES.values(), ids=list(PAGES))
def test_template_syntax_in_data_is_never_evaluated(
    render: Callable[[FakeApis, str], str], apis: FakeApis
) -> None:
    text = html.unescape(render(apis, PAYLOADS["template_syntax"]))
    assert "{{ 7|add:73108 }}" in text
    # Never computed; a number no CSRF token, id or date on these pages is likely to hold.
    assert "73115" not in text
    assert TOKENS_KEY not in text


def test_plain_pages_have_no_inline_script_or_handler(apis: FakeApis) -> None:
    # Why the policy can forbid inline script: the UI's own pages use none.
    for render in PAGES.values():
        parsed = Markup.of(render(apis, PLAIN))
        assert parsed.handlers == []
    for path in ("/login/", "/register/", "/password-reset/"):
        content = Client().get(path).content.decode()
        assert "<script>" not in content
        assert 'src="/static/' in content or "<script" not in content


def test_the_session_tokens_never_reach_a_page(apis: FakeApis) -> None:
    apis.on("accounts", "GET", "me/", body=profile(PLAIN))
    client = signed_in("client")
    access = client.session[TOKENS_KEY]["access"]
    for path in ("/profile/", reverse("portal:notifications")):
        apis.on("notifier", "GET", "", body=page([]))
        assert access not in client.get(path).content.decode()
