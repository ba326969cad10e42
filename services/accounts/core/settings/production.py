"""Production: configuration from the environment only, hardened, no fallbacks for keys."""

from core.signing import issuing_settings
from servidesk_shared.settings import production
from servidesk_shared.settings.jwt import private_key, public_key

from .base import *

production.apply(globals())
# apply() sets verifying settings; accounts signs, so it also needs JWT_PRIVATE_KEY and
# refuses to start without it (ImproperlyConfigured names the variable).
SIMPLE_JWT = issuing_settings(
    private_key=private_key(SERVIDESK_VAR_DIR, local=False),
    public_key=public_key(SERVIDESK_VAR_DIR, local=False),
)
