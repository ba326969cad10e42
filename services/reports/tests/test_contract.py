"""The shared service contract (health, schema, errors, auth) run against reports."""

from servidesk_testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/api/reports/"
    is_api = True
    protected_path = "/api/reports/summary/"
