"""Production: configuration from the environment only, hardened, no fallbacks for keys."""

from servidesk_shared.settings.jwt import public_key, verifying_settings
from servidesk_shared.settings.production import *

from .base import *
from servidesk_shared.settings.production import (  # base must not undo the hardening
    ALLOWED_HOSTS,
    DEBUG,
    SECRET_KEY,
)

SIMPLE_JWT = verifying_settings(public_key(SERVIDESK_VAR_DIR, local=False))
