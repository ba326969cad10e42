"""What a service's settings get from servidesk_shared.settings.service and .local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servidesk_shared.settings import local, service
from servidesk_shared.settings.defaults import TEMPLATES


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("BILLING_DATABASE_URL", "DATABASE_URL", "LOG_LEVEL", "LOG_JSON", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SERVIDESK_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


def _base_module(tmp_path: Path) -> dict[str, Any]:
    """The globals of services/billing/core/settings/base.py, as far as apply() reads them."""
    return {"__file__": str(tmp_path / "billing" / "core" / "settings" / "base.py")}


def test_a_service_gets_its_folders_database_and_static_url(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("BILLING_DATABASE_URL", "postgres://u@db:5432/billing")
    settings = _base_module(tmp_path)
    service.apply(settings, name="billing", prefix="api/billing/")

    assert settings["SERVICE_NAME"] == "billing"
    assert settings["BASE_DIR"] == (tmp_path / "billing").resolve()
    assert settings["SERVIDESK_VAR_DIR"] == tmp_path / "var"
    assert settings["DATABASES"]["default"]["NAME"] == "billing"
    assert settings["LOCALE_PATHS"] == [(tmp_path / "billing" / "locale").resolve()]
    assert settings["STATIC_URL"] == "/api/billing/static/"
    assert settings["LOGGING"]["filters"]["context"]["service"] == "billing"


def test_without_a_database_url_a_service_uses_sqlite_under_var(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = _base_module(tmp_path)
    service.apply(settings, name="billing", prefix="")
    assert settings["DATABASES"]["default"]["NAME"] == str(tmp_path / "var" / "billing.sqlite3")
    assert settings["STATIC_URL"] == "/static/"


def test_context_processors_come_after_the_shared_ones(clean_env: pytest.MonkeyPatch) -> None:
    shared = list(TEMPLATES[0]["OPTIONS"]["context_processors"])
    templates = service.templates("app.context.extra")
    assert templates[0]["OPTIONS"]["context_processors"] == [*shared, "app.context.extra"]
    # The shared list is left as it was for the next service.
    assert TEMPLATES[0]["OPTIONS"]["context_processors"] == shared


def test_local_settings_keep_a_configured_secret_key(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = {"SECRET_KEY": "from-the-environment", "SERVIDESK_VAR_DIR": tmp_path}
    local.apply(settings)
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"] == "from-the-environment"
    assert settings["SIMPLE_JWT"]["VERIFYING_KEY"].startswith("-----BEGIN PUBLIC KEY-----")

    unset: dict[str, Any] = {"SECRET_KEY": "", "SERVIDESK_VAR_DIR": tmp_path}
    clean_env.setenv("DJANGO_DEBUG", "false")
    local.apply(unset)
    assert unset["DEBUG"] is False
    assert unset["SECRET_KEY"] == "django-insecure-local-only"
    # One key pair under var/ for every local service.
    assert unset["SIMPLE_JWT"]["VERIFYING_KEY"] == settings["SIMPLE_JWT"]["VERIFYING_KEY"]
