"""The Swagger UI and schema: public by default, 404 when ``PUBLIC_API_DOCS`` is false.

The attack the switch closes: a deployment that does not want to publish its API surface
(every route, field and error of every service) to anonymous visitors still served it.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db  # ATOMIC_REQUESTS opens a transaction per request

DOCS = ["/api/test/docs/", "/api/test/schema/"]


@pytest.mark.parametrize("path", DOCS)
def test_docs_and_schema_are_public_by_default(
    api_client: APIClient, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBLIC_API_DOCS", raising=False)
    response = api_client.get(path)
    assert response.status_code == 200
    assert b"openapi" in response.content.lower() or b"swagger" in response.content.lower()


@pytest.mark.parametrize("path", DOCS)
def test_docs_and_schema_answer_404_when_not_public(api_client: APIClient, path: str) -> None:
    with override_settings(PUBLIC_API_DOCS=False):
        response = api_client.get(path)
    assert response.status_code == 404
    # The one error shape, as for any path the service does not have.
    assert set(response.json()) == {"message", "extra"}
    assert b"openapi" not in response.content.lower()


@pytest.mark.parametrize("path", DOCS)
def test_the_environment_variable_switches_them_off(
    api_client: APIClient, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_API_DOCS", "false")
    assert api_client.get(path).status_code == 404
    monkeypatch.setenv("PUBLIC_API_DOCS", "true")
    assert api_client.get(path).status_code == 200
