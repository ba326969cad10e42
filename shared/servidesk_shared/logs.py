"""Structured logging: one JSON object per line, with the service and the request id."""

from __future__ import annotations

from typing import Any

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(service)s [%(request_id)s] %(name)s: %(message)s"


def logging_config(service: str, *, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``LOGGING`` dict: JSON lines on stderr (``json=False`` gives plain text for humans)."""
    fields = "%(asctime)s %(levelname)s %(name)s %(service)s %(request_id)s %(message)s"
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": fields,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if json
        else {"format": _TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "servidesk_shared.request_id.RequestIdFilter", "service": service}
        },
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"level": level, "propagate": True},
            # Each request is logged once by nginx or gunicorn; Django's 4xx lines are noise.
            "django.request": {"level": "ERROR", "propagate": True},
            "django.db.backends": {"level": "WARNING", "propagate": True},
        },
    }
