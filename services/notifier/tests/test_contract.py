"""The shared service contract (health, schema, errors, auth) run against notifier."""

from servidesk_testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/api/notifications/"
    protected_path = "/api/notifications/"
    is_api = True
