"""The shared service contract (health, schema, errors, auth) run against web."""

from servidesk_testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/"
    is_api = False
