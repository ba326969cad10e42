"""Local development: DEBUG on, SQLite and the embedded broker unless configured."""

from core.signing import issuing_settings
from servidesk_shared.settings import local
from servidesk_shared.settings.jwt import private_key, public_key

from .base import *

local.apply(globals())
# apply() sets verifying settings; accounts signs with the key pair generated under var/jwt/
# on first start (or JWT_PRIVATE_KEY/JWT_PUBLIC_KEY).
SIMPLE_JWT = issuing_settings(
    private_key=private_key(SERVIDESK_VAR_DIR, local=True),
    public_key=public_key(SERVIDESK_VAR_DIR, local=True),
)
