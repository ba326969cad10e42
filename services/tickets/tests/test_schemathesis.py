"""Schemathesis on every tickets operation, as anonymous, client, technician and admin.

Path values name real objects: a ticket of the client and one of another client, the
seeded categories and every SLA priority, so cases reach the workflow, not only 404s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tickets.models import Priority

from servidesk_shared.testing.api_fuzzing import ServiceSchemathesisTests
from tests.conftest import Caller
from tests.factories import CategoryFactory

FINDINGS = "Finding in docs/reliability.md (security-api):"
ID_TYPE = (
    f"{FINDINGS} T1: user ids (client_id, assignee_id, author_id, actor_id, Assignee.id) are "
    "answered as JSON numbers, documented as strings (tickets/api/fields.py OpaqueIdField)"
)
ID_TYPE_AND_VERSION = (
    f"{ID_TYPE}; and T2: the Ticket schema requires `version`, which clients never get"
)


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/tickets/"
    # Error statuses are not in the tickets schema until the shared default schema class
    # documents them (finding S1); test_error_statuses_are_documented shows it.
    documents_error_statuses = False
    known_failures = {
        **{
            f"{label}-{role}": ID_TYPE_AND_VERSION if role == "client" else ID_TYPE
            for label in ("GET /api/tickets/", "GET /api/tickets/{id}/")
            for role in ("client", "technician", "admin")
        },
        "POST /api/tickets/-client": ID_TYPE_AND_VERSION,
        **{
            f"{label}-{role}": ID_TYPE
            for label in ("GET /api/tickets/{id}/history/", "POST /api/tickets/{id}/comments/")
            for role in ("client", "technician", "admin")
        },
        **{
            f"{label}-{role}": ID_TYPE
            for label in ("GET /api/tickets/assignees/", "POST /api/tickets/{id}/assign/")
            for role in ("technician", "admin")
        },
    }
    # The same findings, on operations whose drawn cases do not reach a 200 on every run
    # (most edits and moves meet a stale `version` first); the reads above pin them.
    known_sometimes_failures = {
        **{
            f"PATCH /api/tickets/{{id}}/-{role}": ID_TYPE_AND_VERSION
            if role == "client"
            else ID_TYPE
            for role in ("client", "technician", "admin")
        },
        **{f"POST /api/tickets/{{id}}/status/-{role}": ID_TYPE for role in ("technician", "admin")},
    }

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

    @pytest.mark.xfail(
        strict=True,
        reason=f"{FINDINGS} S1 (shared default schema class) and T3 (409 and 201 undocumented)",
    )
    def test_error_statuses_are_documented(
        self,
        undocumented_label: str,
        role_headers: dict[str, dict[str, str]],
        path_values: dict[str, list[str]],
    ) -> None:
        super().test_error_statuses_are_documented(undocumented_label, role_headers, path_values)
