"""Settings of the tickets service common to every environment."""

from core.settings.storage import attachments_storage
from servidesk_shared.settings import env, mail, service
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="tickets", prefix="api/tickets/")

INSTALLED_APPS = [
    *SHARED_APPS,
    "django_filters",
    "servidesk_shared.outbox",
    "tickets",
    "inbound",
]
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_DEFAULTS,
    "TITLE": "Servidesk tickets API",
    # One name for the statuses wherever a "status" field shows them (tickets, moves).
    "ENUM_NAME_OVERRIDES": {"TicketStatusEnum": "servidesk_shared.vocabulary.Status"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tickets.api.schema.version_is_staff_only",
    ],
}

# Event bus (servidesk_shared.events.conf): tickets publishes ticket.* through the outbox
# and keeps its user directory from the user.* events of its own queue.
SERVIDESK_EVENT_QUEUE = "tickets.users"
SERVIDESK_EVENT_HANDLERS = "tickets.handlers.handlers"
# Gauges of this service at /<prefix>metrics, besides the outbox and queue ones
# (servidesk_shared.metrics).
SERVIDESK_METRICS_COLLECTORS = ["tickets.monitoring.TicketsCollector"]
# Each request's caller against that directory: deactivated is refused, its role wins.
SERVIDESK_USER_DIRECTORY = "tickets.selectors.directory_entry"

# Inbound mail (``manage.py fetch_mail``, the ``inbound`` app): the support mailbox as
# imap://user:password@host:143/INBOX, imaps://...:993/INBOX or maildir:///path; unset is
# the Maildir ``var/inbox/``, where an .eml file dropped in becomes a message.
INBOUND_MAIL_URL = env.str("INBOUND_MAIL_URL", default="")
#: The address clients write to; mail from it is Servidesk's own and never applied.
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="soporte@servidesk.local")
#: A sender the directory does not know: ``create`` (invite them, hold the message until
#: they are registered) or ``reject`` (answer once with an explanation).
INBOUND_UNKNOWN_SENDERS = env.str("INBOUND_UNKNOWN_SENDERS", default="create")
INBOUND_MAX_PER_SENDER_PER_HOUR = env.int("INBOUND_MAX_PER_SENDER_PER_HOUR", default=30)
#: Seconds between two reads of the mailbox.
INBOUND_POLL_SECONDS = env.float("INBOUND_POLL_SECONDS", default=30.0)

# Outgoing mail (Django's own meanings): tickets answers unknown senders when
# INBOUND_UNKNOWN_SENDERS=reject; every other mail is notifier's.
mail.apply(globals())

# Attachments (tickets.attachments): where the files go, and how large they may be.
ATTACHMENTS_STORAGE_URL = env.str("ATTACHMENTS_STORAGE_URL", default="")
STORAGES = {
    **STORAGES,
    "attachments": attachments_storage(ATTACHMENTS_STORAGE_URL, var=globals()["SERVIDESK_VAR_DIR"]),
}
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The SLA (issue 19): a resolved ticket without client activity is closed after this
# many days; watch_sla looks for due work every SLA_WATCH_SECONDS.
AUTO_CLOSE_DAYS = env.int("AUTO_CLOSE_DAYS", default=7)
# `seed_demo --wait` writes three months of history (tickets.demo_history); the cross-service
# test stacks turn it off: ~1,400 events through every consumer would delay their own.
DEMO_HISTORY = env.bool("DEMO_HISTORY", default=True)
SLA_WATCH_SECONDS = env.float("SLA_WATCH_SECONDS", default=15.0)
# How long a client's rating link ("How did we do?") stays valid.
CSAT_LINK_DAYS = 14

# All the files of one request or mail; never below one file's limit.
ATTACHMENTS_REQUEST_MAX_BYTES = max(25 * 1024 * 1024, ATTACHMENT_MAX_BYTES)
ATTACHMENTS_MAX_FILES = 10
# Django parses at most this many files per request (more: 400, tickets.api.uploads).
DATA_UPLOAD_MAX_NUMBER_FILES = ATTACHMENTS_MAX_FILES
# Uploads go to a temporary file as they arrive, not to memory, above this size; in
# FILE_UPLOAD_TEMP_DIR when set (a disk volume where /tmp is a memory tmpfs).
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None
# A multipart upload may be up to ATTACHMENTS_REQUEST_MAX_BYTES; other bodies keep the
# shared limit, DATA_UPLOAD_MAX_MEMORY_SIZE.
MIDDLEWARE = [
    "tickets.api.uploads.RequestBodyLimitMiddleware"
    if name == "servidesk_shared.request_limits.RequestBodyLimitMiddleware"
    else name
    for name in MIDDLEWARE
]
