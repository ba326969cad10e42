"""Settings of the tickets service common to every environment."""

from servidesk_shared.settings import service
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="tickets", prefix="api/tickets/")

INSTALLED_APPS = [*SHARED_APPS, "django_filters", "servidesk_shared.outbox", "tickets"]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
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
