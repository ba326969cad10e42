"""Settings of the web service common to every environment."""

from servidesk_shared.settings import env, service
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import MIDDLEWARE as SHARED_MIDDLEWARE
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="web", prefix="")

INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    *SHARED_APPS,
    # The inbox of the live feed's consumer (web-live); web publishes nothing.
    "servidesk_shared.outbox",
    "portal",
]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
# web keeps no business data: its database holds sessions only. Session writes (a refreshed
# token pair) must be visible to the user's other requests at once, and the row lock taken
# while refreshing must last only as long as the refresh, not the whole request.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# One line per API call is noise (nginx logs each request with its id); failures are
# logged by portal.api.client.
LOGGING["loggers"] |= {
    "httpx": {"level": "WARNING", "propagate": True},
    "httpcore": {"level": "WARNING", "propagate": True},
}
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk web API"}

# The APIs' JSON 413 is not for a browser: an oversized form post meets Django's own
# DATA_UPLOAD_MAX_MEMORY_SIZE check instead (a 400 page, through handler400).
# The request metrics' pair (servidesk_shared.metrics) stays outermost: first and last.
_METRICS_BEFORE, *_PAGE_MIDDLEWARE, _METRICS_AFTER = [
    name
    for name in SHARED_MIDDLEWARE
    if name != "servidesk_shared.request_limits.RequestBodyLimitMiddleware"
]
MIDDLEWARE = [
    _METRICS_BEFORE,
    "portal.middleware.ServerTimingMiddleware",
    *_PAGE_MIDDLEWARE[:4],
    "django.contrib.sessions.middleware.SessionMiddleware",
    *_PAGE_MIDDLEWARE[4:],
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.ApiMiddleware",
    _METRICS_AFTER,
]
TEMPLATES = service.templates(
    "django.contrib.messages.context_processors.messages", "portal.context.ui"
)

# --- Sessions: the JWT pair lives server-side; the browser holds only the session id -----
# Every service shares the gateway's origin, so the cookies get names of their own.
SESSION_COOKIE_NAME = "servidesk_session"
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: the social-login flow comes back to web as a top-level redirect from
# accounts (and the provider), and must find the session it started from.
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("WEB_SESSION_AGE", default=60 * 60 * 24 * 7)
CSRF_COOKIE_NAME = "servidesk_csrftoken"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_NAME = "servidesk_language"
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LOGIN_URL = "portal:login"
USE_THOUSAND_SEPARATOR = True
# Flash messages ride in a signed cookie (Django's default), not in the session: a request
# that only adds a message must never write back a session holding an older token pair.
MESSAGE_STORAGE = "django.contrib.messages.storage.fallback.FallbackStorage"

# --- The four APIs, over the internal network (never through the gateway) ---------------
# The local stack moves the services' ports with <SERVICE>_PORT; the defaults follow them.
ACCOUNTS_API_URL = env.str(
    "ACCOUNTS_API_URL", default=f"http://127.0.0.1:{env.str('ACCOUNTS_PORT', default='8101')}"
)
TICKETS_API_URL = env.str(
    "TICKETS_API_URL", default=f"http://127.0.0.1:{env.str('TICKETS_PORT', default='8102')}"
)
NOTIFIER_API_URL = env.str(
    "NOTIFIER_API_URL", default=f"http://127.0.0.1:{env.str('NOTIFIER_PORT', default='8103')}"
)
REPORTS_API_URL = env.str(
    "REPORTS_API_URL", default=f"http://127.0.0.1:{env.str('REPORTS_PORT', default='8104')}"
)
# Seconds: to connect, and to wait for an answer (files, both ways, take longer).
WEB_API_CONNECT_TIMEOUT = env.float("WEB_API_CONNECT_TIMEOUT", default=2.0)
WEB_API_TIMEOUT = env.float("WEB_API_TIMEOUT", default=10.0)
WEB_API_DOWNLOAD_TIMEOUT = env.float("WEB_API_DOWNLOAD_TIMEOUT", default=60.0)
# Where the browser starts a social login (accounts' /accounts/ flow). Empty: the same
# origin as web, which is what the gateway gives.
ACCOUNTS_BROWSER_URL = env.str("ACCOUNTS_BROWSER_URL", default="").rstrip("/")
# --- Attachments: checked here before a byte goes on to tickets, which checks again -----
# Per file (the same variable and default as tickets), per request and how many files at
# once: the same values as tickets' settings of these names.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENTS_REQUEST_MAX_BYTES = max(25 * 1024 * 1024, ATTACHMENT_MAX_BYTES)
ATTACHMENTS_MAX_FILES = 10
# DATA_UPLOAD_MAX_MEMORY_SIZE counts a multipart form's text fields only, never its files,
# so it stays small. FILE_UPLOAD_MAX_MEMORY_SIZE is not a limit but where uploads stop being
# held in memory: a request with more files than that spools them to temporary files, and
# they are streamed from there to tickets.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The first handler stops storing a file once it is over a limit (the form says which).
FILE_UPLOAD_HANDLERS = [
    "portal.uploads.AttachmentLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# The pages call the four APIs and never the broker; web-live (manage.py consume_events)
# reads the events an open page is told of into web's database (portal.live).
SERVIDESK_WORKER_CHECKS: list[str] = []
SERVIDESK_EVENT_QUEUE = "web.live"
SERVIDESK_EVENT_HANDLERS = "portal.live.handlers.handlers"
# The live stream (web-events, core/asgi.py): keep-alive comments, how long one stream
# lasts before the browser reconnects (and is signed in again), how long rows are kept
# for reconnecting browsers, how long "X is replying" lasts.
WEB_LIVE_KEEPALIVE_SECONDS = env.float("WEB_LIVE_KEEPALIVE_SECONDS", default=15.0)
WEB_LIVE_STREAM_SECONDS = env.float("WEB_LIVE_STREAM_SECONDS", default=300.0)
WEB_LIVE_RETENTION_SECONDS = env.int("WEB_LIVE_RETENTION_SECONDS", default=3600)
WEB_LIVE_TYPING_SECONDS = env.int("WEB_LIVE_TYPING_SECONDS", default=6)
WEB_LIVE_POLL_SECONDS = env.float("WEB_LIVE_POLL_SECONDS", default=2.0)
CSRF_FAILURE_VIEW = "portal.views.errors.csrf_failure"
