"""The common API behaviour every service inherits: auth, roles, errors, 404s, health."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from rest_framework.test import APIClient

from servidesk_shared.keys import generate_keypair
from servidesk_shared.outbox.models import AggregateSequence
from servidesk_testing import auth_header, make_access_token
from servidesk_testing import test_keypair as keypair  # aliased: pytest would collect it

pytestmark = pytest.mark.django_db


def assert_error_shape(body: dict[str, object]) -> None:
    assert set(body) == {"message", "extra"}
    assert isinstance(body["message"], str)
    assert body["message"]


def test_valid_token_is_the_user(api_client: APIClient) -> None:
    response = api_client.get(
        "/api/test/whoami/", headers=auth_header(user_id=7, role="technician", username="ana")
    )
    assert response.status_code == 200
    assert response.json() == {"id": 7, "role": "technician", "username": "ana"}
    assert response["X-Request-ID"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Token abc",
        "Bearer " + "x" * 5000,
    ],
)
def test_malformed_authorization_is_401_in_common_shape(
    api_client: APIClient, authorization: str
) -> None:
    response = api_client.get("/api/test/whoami/", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert_error_shape(response.json())


@pytest.mark.parametrize(
    "bad_token",
    [
        pytest.param(lambda: make_access_token(lifetime=timedelta(minutes=-5)), id="expired"),
        pytest.param(lambda: make_access_token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda: make_access_token(iss="evil"), id="wrong-issuer"),
        pytest.param(
            lambda: make_access_token(private_pem=generate_keypair().private_pem),
            id="foreign-key",
        ),
        pytest.param(lambda: make_access_token(token_type="refresh"), id="refresh-as-access"),
    ],
)
def test_bad_jwt_is_401(api_client: APIClient, bad_token: object) -> None:
    token = bad_token()  # type: ignore[operator]
    response = api_client.get("/api/test/whoami/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert_error_shape(response.json())


def test_unsigned_alg_none_token_is_401(api_client: APIClient) -> None:

    token = jwt.encode(
        {"user_id": 1, "role": "admin", "aud": "servidesk", "iss": "servidesk-accounts"},
        key=None,
        algorithm="none",
    )
    response = api_client.get("/api/test/admin-only/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_hs256_token_signed_with_public_key_is_401(api_client: APIClient) -> None:
    """The classic RS256→HS256 confusion: the public key used as an HMAC secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(
        json.dumps(
            {
                "user_id": 1,
                "role": "admin",
                "aud": "servidesk",
                "iss": "servidesk-accounts",
                "token_type": "access",
                "exp": 9999999999,
                "jti": "x",
            }
        ).encode()
    )
    secret = keypair().public_pem.encode()
    signature = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    token = f"{header}.{payload}.{signature}"
    response = api_client.get("/api/test/admin-only/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_anonymous_is_401(api_client: APIClient) -> None:
    response = api_client.get("/api/test/whoami/")
    assert response.status_code == 401
    assert_error_shape(response.json())


@pytest.mark.parametrize(
    ("role", "admin_status", "staff_status"),
    [("client", 403, 403), ("technician", 403, 200), ("admin", 200, 200), ("intruder", 403, 403)],
)
def test_role_permissions(
    api_client: APIClient, role: str, admin_status: int, staff_status: int
) -> None:
    headers = auth_header(role=role)
    assert api_client.get("/api/test/admin-only/", headers=headers).status_code == admin_status
    assert api_client.get("/api/test/staff-only/", headers=headers).status_code == staff_status


def test_validation_errors_keep_field_messages(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/test/echo/",
        {"title": "far too long a title", "tags": ["ok", "toolong"]},
        format="json",
        headers=auth_header(),
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    assert set(body["extra"]["fields"]) == {"title", "tags.1"}
    assert all(isinstance(m, str) for m in body["extra"]["fields"]["title"])


def test_malformed_json_is_400(api_client: APIClient) -> None:
    response = api_client.generic(
        "POST",
        "/api/test/echo/",
        data="{not json",
        content_type="application/json",
        headers=auth_header(),
    )
    assert response.status_code == 400
    assert_error_shape(response.json())


def test_json_nested_too_deeply_is_400(api_client: APIClient) -> None:
    response = api_client.generic(
        "POST",
        "/api/test/echo/",
        data="[" * 100_000,
        content_type="application/json",
        headers={**auth_header(), "Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]


def test_application_error_keeps_status_and_extra(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/test/echo/", {"title": "conflict"}, format="json", headers=auth_header()
    )
    assert response.status_code == 409
    assert response.json() == {"message": "Refused by a rule.", "extra": {"code": "rule"}}


@pytest.mark.django_db(transaction=True)
def test_application_error_rolls_back_the_services_writes(api_client: APIClient) -> None:
    # Real transactions (no test transaction around them): the service's own rolls back.
    response = api_client.post(
        "/api/test/echo/", {"title": "conflict"}, format="json", headers=auth_header()
    )
    assert response.status_code == 409
    assert not AggregateSequence.objects.filter(aggregate_type="echo").exists()


@pytest.mark.django_db(transaction=True)
def test_the_handler_keeps_what_a_service_committed_before_refusing(
    api_client: APIClient,
) -> None:
    """A counted failure: the handler answers the 401 and owns no transaction to undo it."""
    response = api_client.post(
        "/api/test/echo/", {"title": "counted"}, format="json", headers=auth_header()
    )
    assert response.status_code == 401
    assert_error_shape(response.json())
    assert AggregateSequence.objects.filter(aggregate_type="echo", aggregate_id="counted").exists()


@pytest.mark.parametrize("path", ["/api/test/nope/", "/api/test/whoami/extra", "/api/test/echo"])
def test_unknown_api_route_is_json_404(api_client: APIClient, path: str) -> None:
    response = api_client.post(path, headers=auth_header())
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert_error_shape(response.json())


def test_missing_slash_gets_a_hint(api_client: APIClient) -> None:
    response = api_client.post("/api/test/echo", headers=auth_header())
    assert "/api/test/echo/" in response.json()["extra"]["hint"]


def test_messages_follow_accept_language(api_client: APIClient) -> None:
    es = api_client.get("/api/test/nope/", headers={"Accept-Language": "es"}).json()
    en = api_client.get("/api/test/nope/", headers={"Accept-Language": "en"}).json()
    assert es["message"] != en["message"]
    assert en["message"].startswith("No route matches")


def test_request_id_is_kept_when_valid_and_replaced_when_not(api_client: APIClient) -> None:
    kept = api_client.get("/api/test/health/live", headers={"X-Request-ID": "abc-123"})
    assert kept["X-Request-ID"] == "abc-123"
    replaced = api_client.get("/api/test/health/live", headers={"X-Request-ID": "bad id\n"})
    assert replaced["X-Request-ID"] != "bad id\n"
    assert len(replaced["X-Request-ID"]) == 32


def test_schema_is_openapi_3(api_client: APIClient) -> None:
    response = api_client.get("/api/test/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/test/whoami/" in schema["paths"]


def test_swagger_ui_is_served_without_a_cdn(api_client: APIClient) -> None:
    response = api_client.get("/api/test/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr.net" not in html


def test_every_request_is_logged_once_with_its_id(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="servidesk.access"):
        api_client.get("/api/test/whoami/", headers={"X-Request-ID": "follow-me", **auth_header()})
        api_client.get("/api/test/health/live", headers={"X-Request-ID": "probe"})
    lines = [r for r in caplog.records if r.name == "servidesk.access"]
    assert [(r.request_id, r.status, r.path) for r in lines] == [  # type: ignore[attr-defined]
        ("follow-me", 200, "/api/test/whoami/")
    ]
    assert lines[0].duration_ms >= 0  # type: ignore[attr-defined]
