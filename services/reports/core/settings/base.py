"""Settings of the reports service common to every environment."""

from servidesk_shared.settings import env, service
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS, TIME_ZONE

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="reports", prefix="api/reports/")

INSTALLED_APPS = [*SHARED_APPS, "servidesk_shared.outbox", "reports"]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk reports API"}

# Reports: local days and weeks are counted in this zone (default: TIME_ZONE).
REPORTS_TIME_ZONE = env.str("REPORTS_TIME_ZONE", default="") or TIME_ZONE
# The event bus: this service's queue and the functions that apply each event type.
SERVIDESK_EVENT_QUEUE = "reports.events"
SERVIDESK_EVENT_HANDLERS = "reports.handlers.handlers"
# Each request's caller against the people kept from user.* events: deactivated is
# refused, their role wins.
SERVIDESK_USER_DIRECTORY = "reports.selectors.directory_entry"
