"""Settings of the tickets service common to every environment."""

from pathlib import Path

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import database_config, env, var_dir
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

SERVICE_NAME = "tickets"
SERVICE_PREFIX = "api/tickets/"
BASE_DIR = Path(__file__).resolve().parents[2]
SERVIDESK_VAR_DIR = var_dir(BASE_DIR)

INSTALLED_APPS = [*SHARED_APPS, "django_filters", "servidesk_shared.outbox", "tickets"]
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
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_DEFAULTS,
    "TITLE": "Servidesk tickets API",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tickets.api.schema.version_is_staff_only",
    ],
}

# Event bus (servidesk_shared.events.conf): tickets publishes ticket.* through the outbox
# and keeps its user directory from the user.* events of its own queue.
SERVIDESK_EVENT_QUEUE = "tickets.users"
SERVIDESK_EVENT_HANDLERS = "tickets.handlers.handlers"
# Each request's caller against that directory: deactivated is refused, its role wins.
SERVIDESK_USER_DIRECTORY = "tickets.selectors.directory_entry"
