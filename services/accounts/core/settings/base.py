"""Settings of the accounts service common to every environment."""

from typing import Any

from servidesk_shared.settings import env, mail, service, throttle_rate
from servidesk_shared.settings.defaults import *
from servidesk_shared.settings.defaults import MIDDLEWARE as SHARED_MIDDLEWARE
from servidesk_shared.settings.defaults import REST_FRAMEWORK as SHARED_REST_FRAMEWORK
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS

# SERVICE_NAME, BASE_DIR, DATABASES, LOGGING, static files: see servidesk_shared.settings.service.
service.apply(globals(), name="accounts", prefix="api/accounts/")

INSTALLED_APPS = [
    *SHARED_APPS,
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_filters",
    "rest_framework_simplejwt.token_blacklist",
    "servidesk_shared.outbox",
    "users",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.facebook",
]


def _with_middleware(middleware: list[str]) -> list[str]:
    """The shared stack plus sessions and Django auth (Django admin, the social-login flow)."""
    stack = list(middleware)
    stack.insert(
        stack.index("django.middleware.locale.LocaleMiddleware"),
        "django.contrib.sessions.middleware.SessionMiddleware",
    )
    after_csrf = stack.index("django.middleware.csrf.CsrfViewMiddleware") + 1
    stack[after_csrf:after_csrf] = [
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    # Before the request metrics' closing middleware (servidesk_shared.metrics), kept last.
    stack.insert(len(stack) - 1, "allauth.account.middleware.AccountMiddleware")
    return stack


MIDDLEWARE = _with_middleware(SHARED_MIDDLEWARE)
TEMPLATES = service.templates(
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
)

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_DEFAULTS,
    "TITLE": "Servidesk accounts API",
    "DESCRIPTION": "Users and roles, sign-in and the RS256 tokens every Servidesk service "
    "verifies. Send the access token as `Authorization: Bearer <token>`.",
    # An API key's role is a subset of a user's: its own enum, not a numbered collision.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "users.models.Role",
        "ApiKeyRoleEnum": "users.api_keys.KEY_ROLES",
    },
}

# --- Users and passwords ----------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = ["users.backends.UsernameOrEmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
#: Seconds a password-reset link stays valid (Django's own setting).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)
#: The browser UI that reset links and the social-login flow lead back to.
WEB_BASE_URL = env.str("WEB_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
PASSWORD_RESET_CONFIRM_PATH = "/password-reset/confirm/{uid}/{token}/"  # noqa: S105
#: Where the social-login flow returns: ``?code=...`` on success, ``?error=...`` otherwise.
SOCIAL_LOGIN_COMPLETE_PATH = env.str("SOCIAL_LOGIN_COMPLETE_PATH", default="/login/social/")
SOCIAL_LOGIN_CODE_TTL = env.int("SOCIAL_LOGIN_CODE_TTL", default=60)
#: Where linking a social login from the profile returns: ``?linked=<provider>`` or
#: ``?link_error=<reason>``.
SOCIAL_LINK_COMPLETE_PATH = env.str("SOCIAL_LINK_COMPLETE_PATH", default="/profile/")
#: Seconds the URL of ``me/social/link/`` may wait before the browser opens it.
SOCIAL_LINK_TOKEN_TTL = env.int("SOCIAL_LINK_TOKEN_TTL", default=120)
#: Seconds web has to confirm a link once the provider answered (``?link_code=`` on the
#: profile, ``me/social/link/confirm/``); the provider login is not linked until then.
SOCIAL_LINK_CODE_TTL = env.int("SOCIAL_LINK_CODE_TTL", default=300)

# --- Proving an email address and a phone number ------------------------------------------
#: The confirmation link mailed to an address points at web's page for it.
EMAIL_CONFIRM_PATH = "/confirm-email/{token}/"
#: Seconds a confirmation link works (2 days).
EMAIL_CONFIRM_TIMEOUT = env.int("EMAIL_CONFIRM_TIMEOUT", default=2 * 24 * 60 * 60)
#: Confirmation mails per user per hour (email changes and resends together).
EMAIL_CONFIRM_SENDS_PER_HOUR = env.int("EMAIL_CONFIRM_SENDS_PER_HOUR", default=5)
#: Seconds a texted code works, and wrong tries before a new one is needed.
PHONE_CODE_TTL = env.int("PHONE_CODE_TTL", default=10 * 60)
PHONE_CODE_MAX_ATTEMPTS = env.int("PHONE_CODE_MAX_ATTEMPTS", default=5)
#: At most one code per this many seconds per user, and this many per user a day.
PHONE_CODE_RESEND_SECONDS = env.int("PHONE_CODE_RESEND_SECONDS", default=60)
PHONE_CODES_PER_DAY = env.int("PHONE_CODES_PER_DAY", default=10)
#: Phone numbers written without a country code are read as numbers of this region.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="ES")

# --- Unknown senders of support mail become clients (user.invite_requested) -------------
# Event bus (servidesk_shared.events.conf): accounts publishes user.* through the outbox
# and consumes one queue, the invitations tickets asks for (manage.py consume_events).
SERVIDESK_EVENT_QUEUE = "accounts.invites"
SERVIDESK_EVENT_HANDLERS = "users.handlers.handlers"
#: Seconds the invitation's link to set a first password works (7 days).
INVITATION_TIMEOUT = env.int("INVITATION_TIMEOUT", default=7 * 24 * 60 * 60)

# --- Email ------------------------------------------------------------------------------
mail.apply(globals())

# --- Sessions: only the Django admin and the social-login handshake use them -------------
# Every service shares the gateway's origin: names of its own keep the web UI's cookies apart.
SESSION_COOKIE_NAME = "servidesk_accounts_session"
SESSION_COOKIE_AGE = 60 * 60 * 8
CSRF_COOKIE_NAME = "servidesk_accounts_csrftoken"

# --- Cache (throttles, failed-login counters, verification sends) -------------------------
# CACHES comes from service.apply: the database cache in accounts' own database, shared by
# every process and replica, or CACHE_URL (Redis). See servidesk_shared.cache.

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    **SHARED_REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.AccountsJWTAuthentication"],
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": throttle_rate("login_ip", "30/min"),
        "login_account": throttle_rate("login_account", "10/min"),
        "register_ip": throttle_rate("register_ip", "10/hour"),
        "register_account": throttle_rate("register_account", "5/hour"),
        "password_reset_ip": throttle_rate("password_reset_ip", "10/hour"),
        "password_reset_account": throttle_rate("password_reset_account", "3/hour"),
        "refresh_ip": throttle_rate("refresh_ip", "120/min"),
        "social_exchange_ip": throttle_rate("social_exchange_ip", "30/min"),
    },
}
#: Failed sign-ins (users.lockout): free tries per account (its username and email alike)
#: and per client address; each further failure doubles the wait (1 s, 2 s, 4 s...) up to
#: LOGIN_LOCKOUT_SECONDS. Failures are forgotten LOGIN_FAILURE_WINDOW_SECONDS after the last.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=60 * 60)
#: Sign-in sessions (users.sessions): a session's refresh tokens stop working this many days
#: after the sign-in, however often they rotate; a rotated refresh token presented again
#: within the grace seconds (two tabs refreshing at once) gets the session's current pair.
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30)
JWT_REFRESH_REUSE_GRACE_SECONDS = env.int("JWT_REFRESH_REUSE_GRACE_SECONDS", default=10)

# --- Social login (django-allauth: Google and Facebook handshakes only) -------------------


def _provider_apps(provider: str) -> list[dict[str, str]]:
    client_id = env.str(f"{provider.upper()}_CLIENT_ID", default="")
    secret = env.str(f"{provider.upper()}_CLIENT_SECRET", default="")
    return [{"client_id": client_id, "secret": secret, "key": ""}] if client_id else []


SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {
    "google": {
        "APPS": _provider_apps("google"),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"prompt": "select_account"},
        "OAUTH_PKCE_ENABLED": True,
    },
    "facebook": {
        "APPS": _provider_apps("facebook"),
        "METHOD": "oauth2",
        "SCOPE": ["email", "public_profile"],
        "FIELDS": ["id", "email", "name", "first_name", "last_name", "locale"],
    },
}
# allauth runs the provider handshakes only: password login, signup and email flows are
# the API's. Its own login, signup and connection pages are replaced by redirects to web.
SOCIALACCOUNT_ONLY = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "users.social.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "users.social.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_LOGIN_ON_GET = True
SOCIALACCOUNT_STORE_TOKENS = False
# Matching a provider's verified email to an account is done by our adapter (so it can
# also revoke the account's tokens); allauth's own matching stays off.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
LOGIN_URL = "/accounts/login/"
