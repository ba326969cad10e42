"""The shared service contract (health, schema, errors, auth) run against tickets."""

from servidesk_shared.testing.contract import ServiceContractTests


class TestContract(ServiceContractTests):
    prefix = "/api/tickets/"
    protected_path = "/api/tickets/"
    is_api = True
