"""Production settings: refuse to start without their secrets, pass `check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


# --- Secrets from the repository, demo data, paid channels (issue 15) --------------------
# The attack each case stands for: a deployment that copied an example from the repository
# (public, hence known to anyone) or kept a demo or test switch on; production must refuse
# to start rather than run with it.

sys.path.insert(0, str(ROOT / "shared"))
from servidesk_shared.settings.examples import example_reason  # noqa: E402

# The old compose example's values (in the history of deploy/compose.env) and placeholders.
OLD_COMPOSE_SECRET_KEY = "FAKE-example-secret-key-for-local-compose-only-replace-me-0000000000"


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "secret_key", [OLD_COMPOSE_SECRET_KEY, "CHANGE-ME-" + "x" * 60, "a" * 40 + "ChangeMe" * 3]
)
def test_refuses_a_secret_key_from_the_examples(
    service: str, secret_key: str, production_env: dict[str, str]
) -> None:
    result = manage(service, {**production_env, "SECRET_KEY": secret_key}, "check")
    refused(result, "SECRET_KEY", "cannot be used in production")


@pytest.mark.parametrize(
    ("service", "password"),
    [
        ("accounts", "FAKE-example-accounts-db-password"),
        ("tickets", "postgres"),
        ("web", "change-me"),
    ],
)
def test_refuses_a_database_password_from_the_examples(
    service: str, password: str, production_env: dict[str, str]
) -> None:
    url = f"postgres://{service}:{password}@127.0.0.1:5432/{service}"
    result = manage(service, {**production_env, f"{service.upper()}_DATABASE_URL": url}, "check")
    refused(result, f"{service.upper()}_DATABASE_URL", "cannot be used in production")


@pytest.mark.parametrize("service", ["accounts", "notifier", "reports"])
@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@127.0.0.1:5672//",  # .env.example, RabbitMQ's default user
        "amqp://servidesk:FAKE-example-rabbitmq-password@rabbitmq:5672/servidesk",
    ],
)
def test_refuses_a_broker_password_from_the_examples(
    service: str, url: str, production_env: dict[str, str]
) -> None:
    result = manage(service, {**production_env, "BROKER_URL": url}, "check")
    refused(result, "BROKER_URL", "cannot be used in production")


def test_refuses_a_mailbox_password_from_the_examples(production_env: dict[str, str]) -> None:
    url = "imaps://user:password@imap.example.com:993/INBOX"  # .env.example's
    result = manage("tickets", {**production_env, "INBOUND_MAIL_URL": url}, "check")
    refused(result, "INBOUND_MAIL_URL", "cannot be used in production")


@pytest.mark.parametrize("name", ["JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY"])
def test_refuses_a_placeholder_jwt_key(name: str, production_env: dict[str, str]) -> None:
    placeholder = "-----BEGIN PUBLIC KEY-----\nCHANGE-ME\n-----END PUBLIC KEY-----\n"
    result = manage("accounts", {**production_env, name: placeholder}, "check")
    refused(result, name, "placeholder")


@pytest.mark.parametrize("service", SERVICES)
def test_refuses_to_seed_demo_data(service: str, production_env: dict[str, str]) -> None:
    result = manage(service, {**production_env, "SERVIDESK_SEED_DEMO": "true"}, "check")
    refused(result, "SERVIDESK_SEED_DEMO")


@pytest.mark.parametrize("value", ["1", "yes", "on"])
def test_every_true_spelling_of_seed_demo_is_refused(
    value: str, production_env: dict[str, str]
) -> None:
    refused(manage("accounts", {**production_env, "SERVIDESK_SEED_DEMO": value}, "check"))


def test_seed_demo_false_is_accepted(production_env: dict[str, str]) -> None:
    result = manage("accounts", {**production_env, "SERVIDESK_SEED_DEMO": "false"}, "check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com",  # the credentials in clear
        "https://127.0.0.1:9",  # the local fake of the tests
        "https://sms.example.com",
        "https://api.twilio.com.example.com",  # a look-alike host
        "https://twilio.com.evil.example/",
        "https://user:pw@evil.example/@api.twilio.com",
        "ftp://api.twilio.com",
    ],
)
def test_refuses_a_twilio_api_base_url_off_twilio(url: str, production_env: dict[str, str]) -> None:
    result = manage("notifier", {**production_env, "TWILIO_API_BASE_URL": url}, "check")
    refused(result, "TWILIO_API_BASE_URL", "https URL on a Twilio host")


@pytest.mark.parametrize(
    "url", ["", "https://api.twilio.com", "https://api.dublin.ie1.twilio.com/"]
)
def test_accepts_twilio_itself(url: str, production_env: dict[str, str]) -> None:
    env = {**production_env, "TWILIO_API_BASE_URL": url}
    result = manage("notifier", env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def _secret_like(key: str) -> bool:
    return bool(re.search(r"(?:SECRET|PASSWORD|_PASS|AUTH_TOKEN|_KEY)$", key))


def _example_values(text: str) -> list[tuple[str, str]]:
    """(what, value) for every secret and URL password in an env-style example file,
    commented-out lines included: they are what people uncomment."""
    found = []
    for raw in text.splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", raw.strip())
        if not match:
            continue
        key, value = match.groups()
        if _secret_like(key) and value:
            found.append((key, value))
        if re.match(r"^[a-z]+://", value):
            password = unquote(urlsplit(value).password or "")
            if password:
                found.append((f"{key} password", password))
    return found


def test_every_secret_of_the_example_files_is_refused() -> None:
    """The list in servidesk_shared.settings.examples covers the repository's examples."""
    sources = {
        ".env.example": (ROOT / ".env.example").read_text(),
        "deploy/compose.env": (ROOT / "deploy" / "compose.env").read_text(),
        "tests/stack.py": (ROOT / "tests" / "stack.py").read_text(),
    }
    checked = 0
    for name, text in sources.items():
        for what, value in _example_values(text):
            assert example_reason(value), f"{name}: {what}={value!r} is not refused"
            checked += 1
        for url in re.findall(r"amqp://[^\"'\s]+|postgres(?:ql)?://[^\"'\s]+", text):
            password = unquote(urlsplit(url).password or "")
            if password:
                assert example_reason(password), f"{name}: the password of {url} is not refused"
                checked += 1
    assert checked  # .env.example's broker URL at least
    # The shipped compose settings hold no secret at all any more.
    assert not _example_values(sources["deploy/compose.env"])
