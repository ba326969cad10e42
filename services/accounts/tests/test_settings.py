"""Keys per environment: production refuses to start without them, local generates them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from servidesk_shared.keys import generate_keypair

SERVICE = Path(__file__).resolve().parents[1]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "SECRET_KEY"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SERVICE,
        env={**base, "DATABASE_URL": "sqlite://:memory:", "SERVIDESK_ENV_FILE": os.devnull, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    pair = generate_keypair()
    return {
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "help.example.com",
        "JWT_PUBLIC_KEY": pair.public_pem,
        "JWT_PRIVATE_KEY": pair.private_pem,
    }


def test_production_passes_check_deploy(production_env: dict[str, str]) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize("missing", ["JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"])
def test_production_refuses_to_start_without_a_key(
    production_env: dict[str, str], missing: str
) -> None:
    result = manage("check", env={**production_env, missing: ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_signs_with_the_configured_key(production_env: dict[str, str]) -> None:
    script = (
        "import django; django.setup();"
        "from users.tokens import AccessToken;"
        "t = AccessToken(); t['user_id'] = '1'; print(str(t))"
    )
    result = manage("shell", "-c", script, env=production_env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    claims = jwt.decode(
        token,
        production_env["JWT_PUBLIC_KEY"],
        algorithms=["RS256"],
        audience="servidesk",
        issuer="servidesk-accounts",
    )
    assert claims["user_id"] == "1"
    assert "kid" in jwt.get_unverified_header(token)


def test_local_generates_a_key_pair_under_var(tmp_path: Path) -> None:
    env = {"DJANGO_SETTINGS_MODULE": "core.settings.local", "SERVIDESK_VAR_DIR": str(tmp_path)}
    result = manage("check", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "jwt" / "private.pem").is_file()
    assert (tmp_path / "jwt" / "public.pem").is_file()
