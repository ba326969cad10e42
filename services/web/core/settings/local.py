"""Local development: DEBUG on, SQLite and the embedded broker unless configured."""

from servidesk_shared.settings import env
from servidesk_shared.settings.jwt import public_key, verifying_settings

from .base import *

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or "django-insecure-local-only"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SIMPLE_JWT = verifying_settings(public_key(SERVIDESK_VAR_DIR, local=True))
