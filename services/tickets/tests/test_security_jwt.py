"""The shared JWT attack catalog against every tickets operation that needs a token."""

from __future__ import annotations

from servidesk_testing.jwt_attacks import ServiceJWTAttackTests


class TestJWTAttacks(ServiceJWTAttackTests):
    pass
