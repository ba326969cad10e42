"""The web service's own settings, typed (see ``core/settings/base.py`` for their meaning)."""

from __future__ import annotations

from django.conf import settings


def api_timeout() -> float:
    return float(getattr(settings, "WEB_API_TIMEOUT", 10.0))


def api_connect_timeout() -> float:
    return float(getattr(settings, "WEB_API_CONNECT_TIMEOUT", 2.0))


def api_download_timeout() -> float:
    return float(getattr(settings, "WEB_API_DOWNLOAD_TIMEOUT", 60.0))


def accounts_browser_url() -> str:
    return str(getattr(settings, "ACCOUNTS_BROWSER_URL", ""))


def api_url(service: str) -> str:
    return str(getattr(settings, f"{service.upper()}_API_URL", "")).rstrip("/")


def attachment_max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def attachments_request_max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENTS_REQUEST_MAX_BYTES", 25 * 1024 * 1024))


def attachments_max_files() -> int:
    return int(getattr(settings, "ATTACHMENTS_MAX_FILES", 10))
