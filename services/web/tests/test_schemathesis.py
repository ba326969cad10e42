"""web has no API: its OpenAPI schema has no operation for schemathesis to call.

Its pages are checked by the browser and CSRF/XSS tests instead. This is the tripwire: an
API operation added to web must be fuzzed like the other services' (subclass
``ServiceSchemathesisTests`` here, as services/tickets/tests/test_schemathesis.py does).
"""

from __future__ import annotations

from servidesk_testing.api_fuzzing import operations, served_schema


def test_the_web_schema_has_no_operations() -> None:
    assert served_schema()["openapi"].startswith("3.")
    assert operations() == {}
