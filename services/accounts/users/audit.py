"""The audit trail of changes to users and API keys (``AuditEntry``).

Each ``audit_*`` function is called by the service function that makes the change, inside
its transaction, so the entry and the change commit (or roll back) together::

    with transaction.atomic():
        user.save()
        audit.user_changes(user=user, before=before, actor=actor)

What is recorded: role changes, activation and deactivation, email address changes (by
an admin, or a user's own once confirmed), API keys created and revoked, and each
exchange of a known key for a token (with its outcome; ``ApiKeyExchange`` keeps the
address too).
"""

from __future__ import annotations

from typing import Any

from users.models import ApiKey, AuditEntry, User

Action = AuditEntry.Action


def _person(actor: User | None) -> User | None:
    return actor if isinstance(actor, User) and actor.pk is not None else None


def user_changes(*, user: User, before: dict[str, Any], actor: User | None) -> list[AuditEntry]:
    """Record what changed on ``user`` since ``before`` (``events.card`` taken before it)."""
    entries: list[AuditEntry] = []

    def add(action: str, old: object = "", new: object = "") -> None:
        entries.append(
            AuditEntry(
                action=action,
                actor=_person(actor),
                user=user,
                old_value=str(old),
                new_value=str(new),
            )
        )

    if before.get("role") != user.role:
        add(Action.ROLE_CHANGED, before.get("role", ""), user.role)
    if before.get("is_active") and not user.is_active:
        add(Action.DEACTIVATED)
    elif not before.get("is_active", True) and user.is_active:
        add(Action.ACTIVATED)
    if before.get("email", user.email) != user.email:
        add(Action.EMAIL_CHANGED, before.get("email", ""), user.email)
    return AuditEntry.objects.bulk_create(entries) if entries else []


def api_key_event(
    *, api_key: ApiKey, action: str, actor: User | None = None, outcome: str = ""
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action, actor=_person(actor), api_key=api_key, new_value=outcome
    )
