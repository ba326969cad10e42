"""Schemathesis on every tickets operation, as anonymous, client, technician and admin.

Path values name real objects: a ticket of the client and one of another client, the
seeded categories and every SLA priority, so cases reach the workflow, not only 404s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tickets.models import Priority

from servidesk_testing.api_fuzzing import ServiceSchemathesisTests
from tests.conftest import Caller
from tests.factories import CategoryFactory


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/tickets/"

    @pytest.fixture
    def role_headers(self, directory: dict[str, Caller]) -> dict[str, dict[str, str]]:
        signed_in = {role: directory[role].headers for role in ("client", "technician", "admin")}
        return {"anonymous": {}, **signed_in}

    @pytest.fixture
    def path_values(self, open_ticket: Callable[..., Any]) -> dict[str, list[str]]:
        tickets = [open_ticket("client"), open_ticket("other_client")]
        categories = [CategoryFactory(slug="hardware"), CategoryFactory(slug="network")]
        return {
            "id": [str(ticket.pk) for ticket in tickets],
            "slug": [category.slug for category in categories],
            "priority": Priority.api_keys(),
        }
