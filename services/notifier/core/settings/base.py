"""Settings of the notifier service common to every environment."""

from servidesk_shared.settings import env, mail, service
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="notifier", prefix="api/notifications/")

INSTALLED_APPS = [*SHARED_APPS, "django_filters", "servidesk_shared.outbox", "notifications"]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk notifications API"}

# --- Events: what `manage.py consume_events` reads and who handles it ---------------------
SERVIDESK_EVENT_QUEUE = "notifier.events"
SERVIDESK_EVENT_HANDLERS = "notifications.handlers.handlers"
# Gauges of this service at /<prefix>metrics, besides the outbox and queue ones
# (servidesk_shared.metrics).
SERVIDESK_METRICS_COLLECTORS = ["notifications.monitoring.NotifierCollector"]
# Each request's caller against the contact cards: deactivated is refused, its role wins.
SERVIDESK_USER_DIRECTORY = "notifications.selectors.directory_entry"

# --- Links in messages -------------------------------------------------------------------
# The browser UI's public address; a ticket's page is <WEB_BASE_URL>/tickets/<id>/.
WEB_BASE_URL = env.str("WEB_BASE_URL", default="http://127.0.0.1:8000")

# --- Email (Django's own meanings) -------------------------------------------------------
mail.apply(globals())
# The support mailbox tickets reads (INBOUND_MAIL_URL): every notification mail's Reply-To,
# so that an answer lands on its ticket; its domain ends every Message-ID notifier writes.
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="soporte@servidesk.local")

# --- SMS (Twilio) ------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Replaces https://api.twilio.com (local fakes and tests point it at loopback).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
# Where Twilio posts delivery updates; empty: WEB_BASE_URL + /api/notifications/twilio/status/.
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)

# --- Sending (see notifications/conf.py) -------------------------------------------------
NOTIFIER_MAX_ATTEMPTS = env.int("NOTIFIER_MAX_ATTEMPTS", default=6)
NOTIFIER_RETRY_DELAY = env.float("NOTIFIER_RETRY_DELAY", default=5.0)
NOTIFIER_RETRY_DELAY_MAX = env.float("NOTIFIER_RETRY_DELAY_MAX", default=600.0)
NOTIFIER_SEND_LEASE = env.float("NOTIFIER_SEND_LEASE", default=120.0)
NOTIFIER_BATCH_SIZE = env.int("NOTIFIER_BATCH_SIZE", default=50)
NOTIFIER_POLL_INTERVAL = env.float("NOTIFIER_POLL_INTERVAL", default=1.0)
NOTIFIER_CONTACT_WAIT = env.float("NOTIFIER_CONTACT_WAIT", default=600.0)
NOTIFIER_CONTACT_RECHECK = env.float("NOTIFIER_CONTACT_RECHECK", default=5.0)

# --- Paid channels: who may be sent what (see notifications/conf.py) ----------------------
# Messages per recipient (phone number, email address) per calendar day in TIME_ZONE.
SMS_MAX_PER_RECIPIENT_PER_DAY = env.int("SMS_MAX_PER_RECIPIENT_PER_DAY", default=20)
EMAIL_MAX_PER_RECIPIENT_PER_DAY = env.int("EMAIL_MAX_PER_RECIPIENT_PER_DAY", default=100)
# ISO 3166 codes SMS may go to, comma-separated ("EU" stands for the EU's); unset: the EU.
SMS_ALLOWED_COUNTRIES = env.list("SMS_ALLOWED_COUNTRIES", default=None)

# --- Webhooks (see notifications/webhooks/conf.py and docs/webhooks.md) ------------------
# true: endpoints may be on loopback, private, link-local addresses and use http:// (tests
# and local use only); never in production.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# true: http:// endpoints are accepted on public addresses too (https:// is the default).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
WEBHOOK_RETRY_FOR = env.float("WEBHOOK_RETRY_FOR", default=86400.0)
WEBHOOK_DISABLE_AFTER = env.float("WEBHOOK_DISABLE_AFTER", default=86400.0)
WEBHOOK_RETRY_DELAY = env.float("WEBHOOK_RETRY_DELAY", default=10.0)
WEBHOOK_RETRY_DELAY_MAX = env.float("WEBHOOK_RETRY_DELAY_MAX", default=3600.0)
WEBHOOK_MAX_RESPONSE_BYTES = env.int("WEBHOOK_MAX_RESPONSE_BYTES", default=65536)
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", default=8)
