"""NUL in a form field or a query parameter: web's readable 400 page, and no API call.

The shared ``InvalidTextMiddleware`` refuses text no database can store (NUL, lone
surrogates) before any view runs; outside ``/api/`` it answers through web's
``handler400``, a page people can read, never JSON and never a traceback.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.fakes import FakeApis

pytestmark = pytest.mark.django_db


def assert_bad_request_page(response: Any) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "The request could not be understood." in html
    assert "Traceback" not in html


def test_nul_in_the_sign_in_form_is_a_400_page(client: Client, apis: FakeApis) -> None:
    response = client.post(
        "/login/", {"username": "a\x00na", "password": "secret"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert_bad_request_page(response)
    assert apis.called("accounts", "POST", "auth/token/") == []


def test_nul_in_a_new_ticket_is_a_400_page(client_user: Client, apis: FakeApis) -> None:
    response = client_user.post(
        "/tickets/new/",
        {"title": "VPN\x00", "description": "Cae", "priority": "medium"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert_bad_request_page(response)
    assert [c for c in apis.calls if c.method != "GET"] == []


def test_nul_in_a_list_filter_is_a_400_page(client_user: Client, apis: FakeApis) -> None:
    response = client_user.get("/tickets/?q=impre%00sora", HTTP_ACCEPT_LANGUAGE="en")
    assert_bad_request_page(response)
    assert apis.called("tickets", "GET", "") == []
