"""Django settings every service starts from; a service's ``base.py`` star-imports this.

Only what is really common lives here. A service adds its own apps, URLs, database and
anything specific to it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from servidesk_shared.settings import env, throttle_rate

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

SHARED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "servidesk_shared",
    # The database cache's table (servidesk_shared.cache), made by `manage.py migrate`.
    "servidesk_shared.cache",
]

MIDDLEWARE = [
    # Request counts and latencies (servidesk_shared.metrics): first and last, so they
    # time the whole stack and see every response's final status.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "servidesk_shared.request_id.RequestIdMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # APIs authenticate with bearer tokens (DRF exempts them from CSRF); the browser UI
    # and the social-login flow use cookies and need both of these.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "servidesk_shared.errors.UnavailableDatabaseMiddleware",
    # Late, so a refused body still gets the request id, CORS and security headers.
    "servidesk_shared.request_limits.RequestBodyLimitMiddleware",
    # After the size limit, so it never reads an oversized body: NUL or a lone surrogate
    # in any query parameter, JSON or form field is a 400 naming the field, not a 500.
    "servidesk_shared.text_input.InvalidTextMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Bodies over this many bytes are refused with 413 (nginx's own limit, 10 MB, is above it:
# this one also holds for a service reached directly). 2.5 MB, Django's default, fits
# the largest valid ticket or comment with room to spare.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# APIs: trailing slashes are part of the contract; redirecting a POST would lose its body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
            ],
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Spanish first, English second.
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")

STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["X-Request-ID"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["servidesk_shared.auth.StatelessJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["servidesk_shared.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "servidesk_shared.pagination.CursorPage",
    # Documents each operation's error responses in the one error shape.
    "DEFAULT_SCHEMA_CLASS": "servidesk_shared.openapi.ServideskAutoSchema",
    "EXCEPTION_HANDLER": "servidesk_shared.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Writes per user and per anonymous address (servidesk_shared.request_limits). A view
    # with throttle_classes of its own (accounts' sign-in, sign-up, reset) replaces these.
    "DEFAULT_THROTTLE_CLASSES": [
        "servidesk_shared.request_limits.WriteUserRateThrottle",
        "servidesk_shared.request_limits.WriteAnonRateThrottle",
    ],
    # nginx sets X-Forwarded-For to the client address; the throttles key on it.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=1),
}


# The Swagger UI and OpenAPI schema of every service: public (integrators need them)
# unless PUBLIC_API_DOCS=false, when both answer 404.
PUBLIC_API_DOCS = env.bool("PUBLIC_API_DOCS", default=True)

# Counted in the service's cache, which every replica shares (servidesk_shared.cache). A
# person working the queue writes a few times a minute.
SERVIDESK_THROTTLE_RATES = {
    "write_user": throttle_rate("write_user", "120/min"),
    "write_anon": throttle_rate("write_anon", "120/min"),
}

SPECTACULAR_DEFAULTS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# health/ready of the web process: its database only. A broker outage leaves the APIs in
# rotation (writes go to the outbox, relays catch up); the workers' health covers it.
SERVIDESK_READY_CHECKS = ["servidesk_shared.health.check_database"]
# The health of relays, consumers and senders (deploy/docker/worker_health.py): a service
# without a broker drops the second one.
SERVIDESK_WORKER_CHECKS = [
    "servidesk_shared.health.check_database",
    "servidesk_shared.health.check_broker",
]

BROKER_URL = env.str("BROKER_URL", default="")
# Prefix of every exchange and queue name: keeps a test run or a staging stack apart.
SERVIDESK_EVENT_PREFIX = env.str("SERVIDESK_EVENT_PREFIX", default="")
