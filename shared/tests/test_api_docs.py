"""The Swagger UI and schema: public by default, 404 when ``PUBLIC_API_DOCS`` is false.

The attack the switch closes: a deployment that does not want to publish its API surface
(every route, field and error of every service) to anonymous visitors still served it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

DOCS = ["/api/test/docs/", "/api/test/schema/"]


@pytest.mark.parametrize("path", DOCS)
def test_docs_and_schema_are_public_by_default(api_client: APIClient, path: str) -> None:
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


@pytest.mark.parametrize(("value", "public"), [("false", False), ("true", True), ("", True)])
def test_the_environment_variable_sets_it(value: str, public: bool) -> None:
    environment = {**os.environ, "PUBLIC_API_DOCS": value}
    if not value:
        del environment["PUBLIC_API_DOCS"]
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from servidesk_shared.settings import defaults as d; print(d.PUBLIC_API_DOCS)",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == str(public)
