"""The shared service contract (health, schema, errors, auth) run against accounts."""

from servidesk_testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/api/accounts/"
    protected_path = "/api/accounts/me/"
    is_api = True
