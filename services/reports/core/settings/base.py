"""Settings of the reports service common to every environment."""

from pathlib import Path

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import database_config, env, var_dir
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS, TIME_ZONE

SERVICE_NAME = "reports"
SERVICE_PREFIX = "api/reports/"
BASE_DIR = Path(__file__).resolve().parents[2]
SERVIDESK_VAR_DIR = var_dir(BASE_DIR)

INSTALLED_APPS = [*SHARED_APPS, "servidesk_shared.outbox", "reports"]
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
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk reports API"}

# Reports: local days and weeks are counted in this zone (default: TIME_ZONE).
REPORTS_TIME_ZONE = env.str("REPORTS_TIME_ZONE", default="") or TIME_ZONE
# The event bus: this service's queue and the functions that apply each event type.
SERVIDESK_EVENT_QUEUE = "reports.events"
SERVIDESK_EVENT_HANDLERS = "reports.handlers.handlers"
# Each request's caller against the people kept from user.* events: deactivated is
# refused, their role wins.
SERVIDESK_USER_DIRECTORY = "reports.selectors.directory_entry"
