"""Behaviour every service owes the contract, as a test class each service subclasses.

    class TestContract(ServiceContractTests):
        prefix = "/api/tickets/"

NetBox-style: the cases are written once, every service runs them against itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import override_settings

from servidesk_testing import make_access_token


def assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"message", "extra"}, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)


@pytest.mark.django_db
class ServiceContractTests:
    prefix: ClassVar[str] = "/"
    #: A path under the prefix that requires an authenticated caller, if the service has one.
    protected_path: ClassVar[str | None] = None
    is_api: ClassVar[bool] = True

    def test_live(self, client: Client) -> None:
        response = client.get(f"{self.prefix}health/live")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response["X-Request-ID"]

    def test_ready_when_dependencies_answer(self, client: Client) -> None:
        with override_settings(SERVIDESK_READY_CHECKS=["servidesk_shared.health.check_database"]):
            response = client.get(f"{self.prefix}health/ready")
        assert response.status_code == 200, response.content
        assert response.json()["checks"] == {"database": "ok"}

    def test_ready_is_503_with_a_reason_when_the_database_is_down(
        self, client: Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        connection = connections["default"]

        def refuse(*args: Any, **kwargs: Any) -> Any:
            from django.db import OperationalError

            raise OperationalError("connection refused")

        monkeypatch.setattr(connection, "cursor", refuse)
        with override_settings(SERVIDESK_READY_CHECKS=["servidesk_shared.health.check_database"]):
            response = client.get(f"{self.prefix}health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert "database" in body["message"]

    def test_schema_is_openapi_3(self, client: Client) -> None:
        response = client.get(f"{self.prefix}schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.")

    def test_swagger_ui(self, client: Client) -> None:
        response = client.get(f"{self.prefix}docs/")
        assert response.status_code == 200
        assert b"swagger-ui" in response.content

    def test_unknown_api_route_is_json_404(self, client: Client) -> None:
        if not self.is_api:
            pytest.skip("the browser UI answers HTML 404s")
        response = client.get(f"{self.prefix}no-such-route/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert_error_shape(response.json())

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    def test_unknown_api_route_is_json_404_for_writes_too(self, method: str) -> None:
        """Not CSRF's HTML 403: the APIs take bearer tokens, never cookies."""
        if not self.is_api:
            pytest.skip("the browser UI answers HTML 404s")
        client = Client(enforce_csrf_checks=True)  # as a browser's request would be checked
        response = client.generic(method, f"{self.prefix}no-such-route/", "{}", "application/json")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert_error_shape(response.json())

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
    )
    def test_malformed_authorization_is_401(self, client: Client, authorization: str) -> None:
        if self.protected_path is None:
            pytest.skip("no authenticated endpoint yet")
        response = client.get(self.protected_path, HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 401
        assert_error_shape(response.json())

    def test_expired_token_is_401(self, client: Client) -> None:
        if self.protected_path is None:
            pytest.skip("no authenticated endpoint yet")
        from datetime import timedelta

        token = make_access_token(lifetime=timedelta(seconds=-60))
        response = client.get(self.protected_path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert_error_shape(response.json())
