"""Production settings: refuse to start without their secrets, pass `check --deploy`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("accounts", "tickets", "notifier", "reports", "web")


def manage(service: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "SECRET_KEY"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT / "services" / service,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "core.settings.production",
            "DATABASE_URL": "sqlite://:memory:",
            "SERVIDESK_ENV_FILE": os.devnull,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "shared"))
    from servidesk_shared.keys import generate_keypair  # noqa: PLC0415

    pair = generate_keypair()
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "help.example.com",
        "JWT_PUBLIC_KEY": pair.public_pem,
        "JWT_PRIVATE_KEY": pair.private_pem,
    }


@pytest.mark.parametrize("service", SERVICES)
def test_passes_check_deploy(service: str, production_env: dict[str, str]) -> None:
    result = manage(service, production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "JWT_PUBLIC_KEY"])
def test_refuses_to_start_without(
    service: str, missing: str, production_env: dict[str, str]
) -> None:
    env = {**production_env, missing: ""}
    result = manage(service, env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr
