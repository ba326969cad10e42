"""A minimal production-like Django project around django-helpdesk, for the baseline bench.

Runs in the throwaway virtualenv that ``bench/helpdesk_baseline.py`` builds, never in ours.
Follows django-helpdesk's install docs (contrib apps, ``SITE_ID``, ``helpdesk`` in
``INSTALLED_APPS``, its URLs included) with teams mode off (no pinax-teams) and its REST API
on (``HELPDESK_API_ENABLED``, the default). Authentication is DRF's default pair (session,
Basic) plus ``TokenAuthentication``, which its API docs leave to the project's
``REST_FRAMEWORK`` setting; the bench picks one per scenario by the headers it sends.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

_database = urlsplit(os.environ["HDBENCH_DATABASE_URL"])

SECRET_KEY = os.environ["HDBENCH_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",  # django-helpdesk builds ticket links in mails from the Site
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

# Django's startproject stack, as a django-helpdesk deployment has it.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hdbench.urls"
WSGI_APPLICATION = "hdbench.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections with health checks, as Servidesk's services run (CONN_MAX_AGE 60):
# Django's default of 0 would add a PostgreSQL connection per request to the baseline.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _database.path.lstrip("/"),
        "USER": _database.username or "postgres",
        "PASSWORD": _database.password or "",
        "HOST": _database.hostname or "127.0.0.1",
        "PORT": str(_database.port or 5432),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SITE_ID = 1
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("HDBENCH_MEDIA_ROOT", "/tmp/hdbench-media")  # noqa: S108

# django-helpdesk mails the submitter on every create. The in-memory backend renders and
# builds each message (MIME included) in the request, as a real send would, without SMTP.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"

HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
