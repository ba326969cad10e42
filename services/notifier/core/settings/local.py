"""Local development: DEBUG on, SQLite and the embedded broker unless configured."""

from servidesk_shared.settings import local

from .base import *

local.apply(globals())
# Without an SMTP server, mail goes to var/mail/ (local.apply). SMS without Twilio
# credentials are logged as skipped with the reason (see notifications/channels/sms.py).
