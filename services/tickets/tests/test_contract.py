"""The shared service contract (health, schema, errors, auth) run against tickets."""

import io

from django.core.management import call_command

from servidesk_testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/api/tickets/"
    protected_path = "/api/tickets/"
    is_api = True


def test_the_openapi_schema_has_no_warnings() -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())
