"""Oversized form posts: refused with a readable 400 page, and nothing reaches an API."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.fakes import FakeApis

pytestmark = pytest.mark.django_db


def test_a_post_over_the_upload_limit_is_a_400_page(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    too_big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client_user.post(
        "/tickets/new/",
        {"title": "Grande", "description": too_big, "priority": "medium"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The request could not be understood." in html  # web's page, not a traceback
    assert "RequestDataTooBig" not in html
    assert [c for c in apis.calls if c.method != "GET"] == []


def test_a_description_over_the_forms_limit_never_reaches_tickets(
    client_user: Client, apis: FakeApis
) -> None:
    # 1 MB fits the body limit; the form's own limit (20,000 characters) refuses it.
    apis.on("tickets", "GET", "categories/", body=[])
    response = client_user.post(
        "/tickets/new/",
        {"title": "Grande", "description": "x" * 1_000_000, "priority": "medium"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert 'id="id_description-errors"' in response.content.decode()
    assert apis.called("tickets", "POST", "") == []
