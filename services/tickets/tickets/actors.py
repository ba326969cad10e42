"""Who is acting: the caller's id and role, independent of how they authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servidesk_shared.auth import ADMIN, CLIENT, ROLES, STAFF_ROLES, TECHNICIAN


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    role: str

    @classmethod
    def from_user(cls, user: Any) -> Actor:
        """The actor of a request: ``request.user`` is a ``ServideskTokenUser``."""
        role = getattr(user, "role", "")
        return cls(id=str(user.id), role=role if role in ROLES else "")

    @property
    def is_client(self) -> bool:
        return self.role == CLIENT

    @property
    def is_technician(self) -> bool:
        return self.role == TECHNICIAN

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES
