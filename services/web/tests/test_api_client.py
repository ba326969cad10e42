"""The API client's own rules: headers passed along, errors classified."""

from __future__ import annotations

import httpx
import pytest
from django.test import RequestFactory
from django.utils import translation
from portal.api import Api, ApiError, ServiceUnavailableError
from portal.api.http import client_ip
from portal.api.types import Page, Ticket, cursor_of

from tests.fakes import FakeApis, ticket_json


@pytest.mark.parametrize(
    ("forwarded", "remote", "expected"),
    [
        ("203.0.113.9", "10.0.0.2", "203.0.113.9"),
        # Only the entry the nearest proxy (nginx) added counts; a client cannot forge it.
        ("1.2.3.4, 203.0.113.9", "10.0.0.2", "203.0.113.9"),
        ("", "10.0.0.2", "10.0.0.2"),
    ],
)
def test_the_browser_address_is_the_one_nginx_saw(
    forwarded: str, remote: str, expected: str
) -> None:
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_calls_carry_language_request_id_and_address(apis: FakeApis) -> None:
    apis.on("accounts", "POST", "auth/password/reset/", 202, {"message": "ok"})
    request = RequestFactory().post("/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    with translation.override("en"):
        Api(request).accounts.password_reset("a@b.example")
    call = apis.calls[-1]
    assert call.headers["Accept-Language"] == "en"
    assert call.headers["X-Forwarded-For"] == "203.0.113.9"
    assert call.headers["Accept"] == "application/json"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_mean_unavailable(apis: FakeApis, status: int) -> None:
    apis.on("accounts", "POST", "auth/password/reset/", status, {"message": "boom"})
    with pytest.raises(ServiceUnavailableError) as caught:
        Api(RequestFactory().get("/")).accounts.password_reset("a@b.example")
    assert caught.value.service == "accounts"
    assert caught.value.label == "Cuentas e inicio de sesión"  # Spanish by default


def test_client_errors_keep_message_fields_and_code(apis: FakeApis) -> None:
    body = {"message": "No.", "extra": {"code": "conflict", "fields": {"email": ["Taken."]}}}
    apis.on("accounts", "POST", "auth/register/", 400, body)
    with pytest.raises(ApiError) as caught:
        Api(RequestFactory().get("/")).accounts.register({"username": "a"})
    assert (caught.value.status, caught.value.message) == (400, "No.")
    assert caught.value.fields == {"email": ["Taken."]}
    assert caught.value.code == "conflict"


def test_an_error_without_the_contract_shape_still_has_a_message(apis: FakeApis) -> None:
    def html_error(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, text="<html>slow down</html>")

    apis.handle("accounts", "POST", "auth/token/", html_error)
    with pytest.raises(ApiError) as caught, translation.override("en"):
        Api(RequestFactory().get("/")).accounts.login("a", "b")
    assert caught.value.message == "Too many attempts. Please wait a moment and try again."


def test_pages_keep_only_the_cursor_of_the_internal_links() -> None:
    data = {
        "results": [ticket_json()],
        "next": "http://127.0.0.1:8102/api/tickets/?cursor=cD0y&status=pending",
        "previous": None,
    }
    parsed = Page.parse(data, Ticket.parse)
    assert parsed.next_cursor == "cD0y"
    assert parsed.previous_cursor is None
    assert parsed.results[0].number == "SD-1041"
    assert cursor_of("not a url") is None


def test_ticket_sla_state() -> None:
    assert Ticket.parse(ticket_json(resolution_breached=True)).sla_state == "breached"
    assert Ticket.parse(ticket_json(first_response_due="2000-01-01T00:00:00Z")).sla_state == (
        "due_soon"
    )
    assert Ticket.parse(ticket_json()).sla_state == "on_track"
    assert Ticket.parse(ticket_json(status="resolved")).sla_state == "closed"
    assert Ticket.parse(ticket_json(status="in_progress")).moves == ("pending", "resolved")
