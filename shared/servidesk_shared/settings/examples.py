"""Values the repository shows as examples, which no real deployment may use.

Production settings (``servidesk_shared.settings.production``) refuse to start with a
secret key, a database or broker password, or a JWT key that is one of these, or that
still carries a placeholder marker such as ``CHANGE-ME``. The images do not contain
.env.example or deploy/, so the values are listed here; tests/test_production_settings.py
reads those files and fails when one of their values is missing from this list.
"""

from __future__ import annotations

from typing import Final

#: Markers of a value nobody filled in (compared without regard to case).
PLACEHOLDER_MARKERS: Final = (
    "change-me",
    "changeme",
    "replace-me",
    "fake-example",
    "django-insecure",
    "not-secret",
)

#: Values found as examples in the repository, now or in its history, and the defaults of
#: the software it runs on.
EXAMPLE_VALUES: Final = frozenset(
    {
        # .env.example's broker URL, tests/stack.py's, the bench settings': RabbitMQ's
        # default user, which a fresh broker creates.
        "guest",
        # The postgres image's examples and the database URLs in the docs.
        "postgres",
        "password",
        "secret",
        # Settings of the local stack and the tests.
        "django-insecure-local-only",
        "test-only-not-secret",
        # deploy/compose.env before it stopped shipping values (issue 15).
        "FAKE-example-secret-key-for-local-compose-only-replace-me-0000000000",
        "FAKE-example-postgres-password",
        "FAKE-example-accounts-db-password",
        "FAKE-example-tickets-db-password",
        "FAKE-example-notifier-db-password",
        "FAKE-example-reports-db-password",
        "FAKE-example-web-db-password",
        "FAKE-example-rabbitmq-password",
    }
)


def example_reason(value: str) -> str | None:
    """Why ``value`` is an example (to put in an error message), or ``None``."""
    if value in EXAMPLE_VALUES:
        return "it is an example value from the repository"
    lowered = value.lower()
    for marker in PLACEHOLDER_MARKERS:
        if marker in lowered:
            return f"it is a placeholder (contains {marker!r})"
    return None
