"""Schemathesis on every accounts operation, as anonymous, client, technician and admin.

The role_headers are real users (accounts looks a token's user up); ``user_id`` path values
name the caller's own account and another one, so the fuzzing reaches real objects.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from servidesk_testing.api_fuzzing import ServiceSchemathesisTests

from tests.factories import AdminFactory, ClientFactory, TechnicianFactory
from users.models import User
from users.tokens import token_pair_for


def bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_pair_for(user).access}"}


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/accounts/"
    #: The per-user limits on confirmation mails and phone codes answer 429 otherwise.
    unlimited_settings: ClassVar[dict[str, Any]] = {
        "EMAIL_CONFIRM_SENDS_PER_HOUR": 10**9,
        "PHONE_CODE_RESEND_SECONDS": 0,
        "PHONE_CODES_PER_DAY": 10**9,
    }

    @pytest.fixture
    def people(self, db: None) -> dict[str, User]:
        return {
            "client": ClientFactory(),
            "technician": TechnicianFactory(),
            "admin": AdminFactory(),
            "other": ClientFactory(),
        }

    @pytest.fixture
    def role_headers(self, people: dict[str, User]) -> dict[str, dict[str, str]]:
        signed_in = {role: bearer(people[role]) for role in ("client", "technician", "admin")}
        return {"anonymous": {}, **signed_in}

    @pytest.fixture
    def path_values(self, people: dict[str, User]) -> dict[str, list[str]]:
        return {"user_id": [str(user.pk) for user in people.values()]}
