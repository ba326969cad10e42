"""Who is acting: the caller's id and role, independent of how they authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servidesk_shared.auth import ROLES, RoleChecks


@dataclass(frozen=True, slots=True)
class Actor(RoleChecks):
    id: str
    role: str

    @classmethod
    def from_user(cls, user: Any) -> Actor:
        """The actor of a request: ``request.user`` is a ``ServideskTokenUser``."""
        role = getattr(user, "role", "")
        return cls(id=str(user.id), role=role if role in ROLES else "")
