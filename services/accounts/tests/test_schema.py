"""The OpenAPI schema is generated without warnings and validates."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command


def test_schema_has_no_warnings_and_validates() -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=out)
    schema = out.getvalue()
    for path in (
        "/api/accounts/auth/token/",
        "/api/accounts/auth/social/exchange/",
        "/api/accounts/me/",
        "/api/accounts/users/{user_id}/",
        "/api/accounts/.well-known/jwks.json",
    ):
        assert path in schema
