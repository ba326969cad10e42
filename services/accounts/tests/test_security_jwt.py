"""The shared JWT attack catalog against every accounts operation that needs a token.

accounts looks a token's user up, so the forgeries claim to be a real, active admin.
"""

from __future__ import annotations

import pytest
from servidesk_testing.jwt_attacks import Identity, ServiceJWTAttackTests

from tests.factories import AdminFactory


class TestJWTAttacks(ServiceJWTAttackTests):
    @pytest.fixture
    def identity(self, db: None) -> Identity:
        admin = AdminFactory()
        return Identity(user_id=admin.pk, role="admin", username=admin.username)
