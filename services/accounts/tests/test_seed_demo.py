"""``manage.py seed_demo``: the documented demo users, created once."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import password_validation
from django.core.management import call_command
from rest_framework.test import APIClient

from servidesk_shared.outbox.models import OutboxMessage
from users.management.commands.seed_demo import DEMO_USERS, HISTORY_USERS
from users.models import User

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[1] / "README.md"


def seed(**options: Any) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=out, **options)
    return out.getvalue()


def test_creates_one_admin_two_technicians_three_clients() -> None:
    output = seed(force=True)
    documented = User.objects.filter(username__in=[demo.username for demo in DEMO_USERS])
    roles = sorted(documented.values_list("role", flat=True))
    assert roles == ["admin", "client", "client", "client", "technician", "technician"]
    for demo in DEMO_USERS:
        assert demo.username in output
        assert demo.password in output
    total = len(DEMO_USERS) + len(HISTORY_USERS)
    assert OutboxMessage.objects.filter(event_type="user.registered").count() == total


def test_the_history_people_cannot_sign_in_and_get_no_mail() -> None:
    seed(force=True)
    people = User.objects.filter(username__in=[demo.username for demo in HISTORY_USERS])
    assert people.count() == len(HISTORY_USERS) >= 12
    assert people.filter(role="technician").count() >= 2
    for user in people:
        assert not user.has_usable_password()
        assert not user.notify_email
        assert user.email_verified  # their mails to support open tickets


def test_the_printed_passwords_sign_in() -> None:
    seed(force=True)
    for demo in DEMO_USERS:
        response = APIClient().post(
            "/api/accounts/auth/token/", {"username": demo.username, "password": demo.password}
        )
        assert response.status_code == 200, demo.username


def test_running_it_again_changes_nothing() -> None:
    seed(force=True)
    admin = User.objects.get(username="admin")
    admin.set_password("changed-by-the-admin")
    admin.save()
    output = seed(force=True)
    assert "0 created" in output
    total = len(DEMO_USERS) + len(HISTORY_USERS)
    assert User.objects.count() == total
    admin.refresh_from_db()
    assert admin.check_password("changed-by-the-admin")
    assert OutboxMessage.objects.count() == total


def test_refuses_with_debug_off_unless_forced(settings: Any) -> None:
    settings.DEBUG = False
    output = seed()
    assert "not creating" in output
    assert not User.objects.exists()


def test_demo_passwords_pass_the_password_rules() -> None:
    for demo in DEMO_USERS:
        user = User(username=demo.username, email=demo.email, full_name=demo.full_name)
        password_validation.validate_password(demo.password, user=user)


def test_the_readme_documents_them() -> None:
    readme = README.read_text()
    for demo in DEMO_USERS:
        assert f"`{demo.username}`" in readme
        assert f"`{demo.password}`" in readme
