"""Production: configuration from the environment only, hardened, no fallbacks for keys."""

from servidesk_shared.settings import production

from .base import *

production.apply(globals())

# The language cookie travels like the session's: https only.
LANGUAGE_COOKIE_SECURE = True
