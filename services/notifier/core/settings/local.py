"""Local development: DEBUG on, SQLite and the embedded broker unless configured."""

from servidesk_shared.settings import local

from .base import *

local.apply(globals())

# Without an SMTP server configured, mails are written to var/mail/ (one file per batch)
# rather than failing against localhost:25. SMS without Twilio credentials are logged as
# skipped with the reason (see notifications/channels/sms.py).
if not env.str("EMAIL_HOST", default="") and not env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = SERVIDESK_VAR_DIR / "mail"
