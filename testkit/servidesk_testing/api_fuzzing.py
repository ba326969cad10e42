"""Schemathesis against a service's own OpenAPI schema, in-process, as every role.

    class TestSchemathesis(ServiceSchemathesisTests):
        prefix = "/api/tickets/"

Every operation of the schema the service serves is called as anonymous, a client, a
technician and an admin with cases schemathesis generates from the schema: valid ones
(with path parameters that name real objects when the service seeds some, fuzzed ones
otherwise) and invalid ones (negative mode). Each response must not be a 5xx, must have a
documented status code and content type, must match the documented schema, and invalid
input must be refused with a 4xx. Requests go through Django's WSGI handler, so they share
the test's database transaction; examples are derandomized, so a run is repeatable.

Every rate limit is lifted for these tests (and the cache that counts is emptied before
each), and a test fails if any answer was a 429: a throttled case never reached the view,
so it tested nothing. The limits themselves have tests of their own.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any, ClassVar

import hypothesis
import pytest
import schemathesis
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from servidesk_testing import auth_header

Operation = APIOperation[Any, Any, Any, Any]
ROLES = ("anonymous", "client", "technician", "admin")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Everything but "status codes documented", for a service whose errors are not documented yet.
RESPONSE_CHECKS: tuple[CheckFunction, ...] = (
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
ALL_CHECKS: tuple[CheckFunction, ...] = (*RESPONSE_CHECKS, status_code_conformance)


class InTestWSGIApp:
    """Django's WSGI handler, keeping the database connection open around a request as
    Django's test client does, so requests run inside the test's transaction.

    Each request gets a savepoint of its own: a view that runs outside a transaction in
    production (tickets' reads) may still mark "roll back" when it answers an error (DRF
    does), and that must undo this request, not poison the test's transaction for the
    requests after it.
    """

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            with transaction.atomic():
                response = self.handler(environ, start_response)
                body = b"".join(response)
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return [body]


@cache
def served_schema() -> dict[str, Any]:
    """The OpenAPI document ``/<prefix>schema/`` serves, generated without a request."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    generator = SchemaGenerator()  # type: ignore[no-untyped-call]
    document = generator.get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
    rendered: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(document))
    return rendered


@cache
def operations() -> dict[str, Operation]:
    """Every operation of the served schema by its label (``GET /api/x/{id}/``), wired to
    the service's WSGI handler."""
    schema = schemathesis.openapi.from_dict(served_schema())
    # Each role's token is sent with every case (``fuzz_operation``), so schemathesis must
    # not generate, or "negate" by leaving out, the Authorization header itself: it would
    # then expect a refusal for a request that did carry a token.
    schema.config.generation.update(with_security_parameters=False)
    schema.app = InTestWSGIApp()
    found = [result for result in schema.get_all_operations() if isinstance(result, Ok)]
    return {result.ok().label: result.ok() for result in found}


def requires_token(operation: Operation) -> bool:
    """Whether the operation documents no anonymous access (``security`` without ``{}``)."""
    security = operation.definition.raw.get("security", [])
    return bool(security) and {} not in security


def reads_token(operation: Operation) -> bool:
    """Whether a bearer token means anything to the operation; public ones do not read it,
    so they are fuzzed once, anonymously."""
    return any(requirement for requirement in operation.definition.raw.get("security", []))


def query_parameters(operation: Operation) -> set[str]:
    parameters = operation.definition.raw.get("parameters", [])
    return {p["name"] for p in parameters if p["in"] == "query"}


def takes_input(operation: Operation) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters")) or (
        operation.method.upper() in BODY_METHODS and "requestBody" in definition
    )


def case_strategy(operation: Operation, path_values: dict[str, list[str]]) -> Any:
    """Valid cases, valid cases on real objects, and invalid cases (when there is input)."""
    strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"]
    known = {name: path_values[name] for name in names if path_values.get(name)}
    if known and len(known) == len(names):
        strategies.append(
            st.fixed_dictionaries({n: st.sampled_from(v) for n, v in known.items()}).flatmap(
                lambda values: operation.as_strategy(path_parameters=values)
            )
        )
    if takes_input(operation):
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    return st.one_of(strategies)


def fuzz_operation(
    operation: Operation,
    *,
    headers: dict[str, str],
    path_values: dict[str, list[str]],
    max_examples: int,
    checks: tuple[CheckFunction, ...] = ALL_CHECKS,
) -> Counter[int]:
    """Call ``operation`` with up to ``max_examples`` generated cases; return how many
    answers of each status code came back."""
    statuses: Counter[int] = Counter()

    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        # No shrinking: the first failing case is reported as it was sent.
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=case_strategy(operation, path_values))
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=list(checks), headers=headers)

    run()
    return statuses


@pytest.mark.django_db
class ServiceSchemathesisTests:
    """Subclass with ``prefix``; override ``role_headers`` when the service looks token users up,
    and ``path_values`` to point path parameters at real objects."""

    prefix: ClassVar[str] = "/"
    #: Generated cases per operation and role (valid, on real objects, invalid together).
    max_examples: ClassVar[int] = 12
    #: False while the service's schema does not document its error responses (see
    #: ``ServideskAutoSchema``): status codes are then not checked here.
    documents_error_statuses: ClassVar[bool] = True
    #: ``"<operation label>-<role>"`` -> why it fails today (a finding for the service's
    #: owners): run as ``xfail(strict=True)``, so the fix makes it pass and the entry go.
    known_failures: ClassVar[dict[str, str]] = {}
    #: The same, for a failure that needs a case the generator does not draw on every run
    #: (an invalid ``page_size``): ``xfail(strict=False)``; a deterministic test pins it.
    known_sometimes_failures: ClassVar[dict[str, str]] = {}
    #: Why a bad ``page_size``/``cursor`` is not a 400 yet (a finding), or None.
    bad_paging_reason: ClassVar[str | None] = None
    #: Further settings that hold fuzzed requests back before they reach a view (a
    #: service's own failure counters), set for these tests only.
    unlimited_settings: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def rate_limits_lifted(self, settings: Any) -> None:
        """No throttle or limit answers a fuzzed request; counters start empty."""
        settings.SERVIDESK_THROTTLE_RATES = dict.fromkeys(
            getattr(settings, "SERVIDESK_THROTTLE_RATES", {}), None
        )
        rest_framework = dict(getattr(settings, "REST_FRAMEWORK", {}))
        rest_framework["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(
            rest_framework.get("DEFAULT_THROTTLE_RATES", {}), None
        )
        settings.REST_FRAMEWORK = rest_framework
        for name, value in self.unlimited_settings.items():
            setattr(settings, name, value)
        for alias in settings.CACHES:
            caches[alias].clear()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if {"operation_label", "role"} <= set(metafunc.fixturenames):
            metafunc.parametrize(
                ("operation_label", "role"),
                [
                    self._param(label, role)
                    for label, operation in sorted(operations().items())
                    for role in (ROLES if reads_token(operation) else ("anonymous",))
                ],
            )

        if "undocumented_label" in metafunc.fixturenames:
            # Only while the schema does not document errors: test_operation checks them.
            labels = [] if self.documents_error_statuses else sorted(operations())
            metafunc.parametrize("undocumented_label", labels)
        if "paged_label" in metafunc.fixturenames:
            reason = self.bad_paging_reason
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            metafunc.parametrize(
                "paged_label",
                [
                    pytest.param(label, marks=marks)
                    for label, operation in sorted(operations().items())
                    if {"page_size", "cursor"} <= query_parameters(operation)
                ],
            )

    def _param(self, label: str, role: str) -> Any:
        test_id = f"{label}-{role}"
        marks = []
        if reason := self.known_failures.get(test_id):
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        if reason := self.known_sometimes_failures.get(test_id):
            marks.append(pytest.mark.xfail(strict=False, reason=reason))
        return pytest.param(label, role, id=test_id, marks=marks)

    @pytest.fixture
    def role_headers(self) -> dict[str, dict[str, str]]:
        """The request headers of each role (tokens of users 101, 201 and 301)."""
        return {
            "anonymous": {},
            "client": auth_header(user_id=101, role="client"),
            "technician": auth_header(user_id=201, role="technician"),
            "admin": auth_header(user_id=301, role="admin"),
        }

    @pytest.fixture
    def path_values(self) -> dict[str, list[str]]:
        """Values of path parameters that name real objects, by parameter name."""
        return {}

    def test_schema_has_operations_under_the_prefix(self) -> None:
        assert operations(), "the served schema has no operations"
        assert all(label.split(" ", 1)[1].startswith(self.prefix) for label in operations())

    def test_operation(
        self,
        operation_label: str,
        role: str,
        role_headers: dict[str, dict[str, str]],
        path_values: dict[str, list[str]],
    ) -> None:
        operation = operations()[operation_label]
        checks = ALL_CHECKS if self.documents_error_statuses else RESPONSE_CHECKS
        statuses = fuzz_operation(
            operation,
            headers=role_headers[role],
            path_values=path_values,
            max_examples=self.max_examples,
            checks=checks,
        )
        assert statuses.total() > 0
        assert not statuses[429], f"{statuses[429]} of {statuses.total()} cases were throttled"

    @pytest.mark.parametrize(
        "bad_query", [{"page_size": "true"}, {"page_size": "0"}, {"cursor": "x"}], ids=str
    )
    def test_bad_paging_is_a_400(
        self,
        paged_label: str,
        bad_query: dict[str, str],
        role_headers: dict[str, dict[str, str]],
        path_values: dict[str, list[str]],
        client: Client,
    ) -> None:
        """A list refuses a page size or cursor it cannot use, naming it (as an admin)."""
        path = paged_label.split(" ", 1)[1]
        for name, values in path_values.items():
            path = path.replace("{" + name + "}", values[0])
        response = client.get(path, bad_query, headers=role_headers["admin"])
        assert response.status_code == 400, (response.status_code, response.content[:300])
        assert set(bad_query) <= set(response.json()["extra"]["fields"])

    def test_error_statuses_are_documented(
        self,
        undocumented_label: str,
        role_headers: dict[str, dict[str, str]],
        path_values: dict[str, list[str]],
    ) -> None:
        """Every status each role meets on the operation is in the schema (a few cases).

        Only for a service whose schema does not document its errors yet (it marks this
        xfail): otherwise ``test_operation`` checks status codes on every case."""
        operation = operations()[undocumented_label]
        for role in ROLES if reads_token(operation) else ("anonymous",):
            fuzz_operation(
                operation,
                headers=role_headers[role],
                path_values=path_values,
                max_examples=3,
                checks=(status_code_conformance,),
            )
