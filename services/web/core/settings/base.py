"""Settings of the web service common to every environment."""

from pathlib import Path

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import database_config, env, var_dir
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

SERVICE_NAME = "web"
SERVICE_PREFIX = ""
BASE_DIR = Path(__file__).resolve().parents[2]
SERVIDESK_VAR_DIR = var_dir(BASE_DIR)

INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.messages",
    *SHARED_APPS,
    "portal",
]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
DATABASES = {"default": database_config(SERVICE_NAME, var=SERVIDESK_VAR_DIR)}
LOCALE_PATHS = [BASE_DIR / "locale"]
STATIC_URL = f"/{SERVICE_PREFIX}static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGGING = logging_config(
    SERVICE_NAME,
    level=env.str("LOG_LEVEL", default="INFO"),
    json=env.bool("LOG_JSON", default=True),
)
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk web API"}

MIDDLEWARE = [
    *MIDDLEWARE[:4],
    "django.contrib.sessions.middleware.SessionMiddleware",
    *MIDDLEWARE[4:],
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "django.contrib.messages.context_processors.messages",
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The UI has no broker: it only calls the four APIs.
SERVIDESK_READY_CHECKS = ["servidesk_shared.health.check_database"]
