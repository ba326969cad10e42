"""ASGI entry point of web's live stream (web-events: ``uvicorn core.asgi:application``).

It serves only ``/events/`` (and its health checks); the pages stay on gunicorn
(``core.wsgi``). See ``portal.live.stream``.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.production")
django.setup()

from portal.live.stream import application  # noqa: E402 (needs the settings loaded)

__all__ = ["application"]
