"""The API client's own rules: headers passed along, answers read by the contract,
errors classified."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from portal.api import Api, ApiError, ServiceUnavailableError
from portal.api.http import client_ip
from portal.api.types import Ticket, decode

from tests.fakes import FakeApis, page, signed_in_request, ticket_json


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


@pytest.mark.django_db
def test_answers_are_read_by_the_contract_and_tolerate_additions(apis: FakeApis) -> None:
    added = ticket_json(id=41, client_id=7, assignee_id="u-3", surprise={"new": "field"})
    del added["client_name"]  # a field added after the contract may be missing
    apis.on("tickets", "GET", "", body=page([added], next_url="http://127.0.0.1:8102/?cursor=cD0y"))
    found = Api(signed_in_request()).tickets.search()
    ticket = found.results[0]
    # Ids are opaque: a number and its text are the same id (the session holds text).
    assert (ticket.id, ticket.client_id, ticket.assignee_id) == ("41", "7", "u-3")
    assert ticket.created_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert ticket.client_name is None
    # Only the cursor of the API's (internal) links is kept.
    assert (found.next_cursor, found.previous_cursor) == ("cD0y", None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"<html>gateway page</html>",  # not JSON
        b'[{"id": 41}]',  # not an object
        json.dumps({k: v for k, v in ticket_json().items() if k != "status"}).encode(),
        json.dumps(ticket_json(created_at="yesterday")).encode(),
        json.dumps(ticket_json(client_id={"id": 7})).encode(),
    ],
    ids=["not-json", "not-an-object", "missing-field", "bad-date", "bad-id"],
)
def test_an_answer_that_does_not_fit_is_an_outage_of_that_service(
    apis: FakeApis, technician: Client, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    apis.on("tickets", "GET", "41/", body=body)
    with pytest.raises(ServiceUnavailableError) as caught:
        Api(signed_in_request()).tickets.get_ticket("41")
    assert caught.value.service == "tickets"
    assert "api answer not understood" in caplog.text
    # The browser gets the page that names the service, never a server error.
    response = technician.get("/tickets/41/")
    assert response.status_code == 503
    assert 'data-testid="unavailable"' in response.content.decode()


def test_ticket_sla_state() -> None:
    def ticket(**overrides: object) -> Ticket:
        return decode(json.dumps(ticket_json(**overrides)).encode(), Ticket)

    assert ticket(resolution_breached=True).sla_state == "breached"
    assert ticket(first_response_due="2000-01-01T00:00:00Z").sla_state == "due_soon"
    assert ticket().sla_state == "on_track"
    assert ticket(status="resolved").sla_state == "closed"
    assert ticket(status="in_progress").moves == ("pending", "waiting", "resolved")
