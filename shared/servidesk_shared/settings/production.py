"""Production hardening every service applies at the end of its ``production.py``.

``apply(globals())`` refuses to start (``ImproperlyConfigured``, naming the variable):

- without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``JWT_PUBLIC_KEY``;
- with a secret key, database or broker password or JWT key that is an example from the
  repository or a placeholder (``servidesk_shared.settings.examples``);
- with ``SERVIDESK_SEED_DEMO`` set to a true value: demo users have published passwords;
- with ``TWILIO_API_BASE_URL`` anywhere but an https Twilio host (the SMS credentials and
  every message body would go there);

and sets what ``manage.py check --deploy`` asks for. A function rather than a star
import, so import sorting can never put it before ``base``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from servidesk_shared.settings import env
from servidesk_shared.settings.examples import example_reason
from servidesk_shared.settings.jwt import public_key, verifying_settings

#: How to get real values, for the error messages.
_GENERATE = (
    "use a random value of this deployment's own (for docker compose, "
    "`python3 scripts/compose_secrets.py` writes them)"
)


def apply(settings: dict[str, Any]) -> None:
    secret_key = env.str("SECRET_KEY", default="")
    if len(secret_key) < 50 or secret_key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of 50 characters or more."
        )
    allowed_hosts = env.list("ALLOWED_HOSTS", default=[])
    if not allowed_hosts:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this service answers.")
    # A Kubernetes pod's own address (the downward API's status.podIP), which Prometheus
    # scrapes /<prefix>metrics at (servidesk_shared.metrics); IPv6 in brackets, as Host.
    pod_ip = str(env.str("POD_IP", default=""))
    if pod_ip:
        allowed_hosts = [*allowed_hosts, f"[{pod_ip}]" if ":" in pod_ip else pod_ip]
    refuse_examples(settings, secret_key=secret_key)
    refuse_demo_data()
    refuse_foreign_twilio(settings.get("TWILIO_API_BASE_URL", ""))

    settings.update(
        DEBUG=False,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=allowed_hosts,
        SIMPLE_JWT=verifying_settings(public_key(settings["SERVIDESK_VAR_DIR"], local=False)),
        # nginx terminates TLS and says so in X-Forwarded-Proto.
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        USE_X_FORWARDED_HOST=True,
        SECURE_SSL_REDIRECT=env.bool("SECURE_SSL_REDIRECT", default=True),
        # Container health checks and the metrics' scraper talk plain HTTP to the
        # process itself.
        SECURE_REDIRECT_EXEMPT=[r"^(?:api/\w+/)?(?:health/(?:live|ready)|metrics)$"],
        SECURE_HSTS_SECONDS=env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365),
        SECURE_HSTS_INCLUDE_SUBDOMAINS=env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True),
        SECURE_HSTS_PRELOAD=env.bool("SECURE_HSTS_PRELOAD", default=True),
        SECURE_CONTENT_TYPE_NOSNIFF=True,
        SECURE_REFERRER_POLICY="same-origin",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        CSRF_COOKIE_SECURE=True,
        X_FRAME_OPTIONS="DENY",
        CSRF_TRUSTED_ORIGINS=env.list("CSRF_TRUSTED_ORIGINS", default=[]),
    )


def refuse_examples(settings: dict[str, Any], *, secret_key: str) -> None:
    """No secret from the repository's examples: they are public, hence no secret."""
    service = str(settings.get("SERVICE_NAME", "")).upper()
    database_variable = f"{service}_DATABASE_URL (or DATABASE_URL)" if service else "DATABASE_URL"
    candidates = [("SECRET_KEY", secret_key)]
    for alias, database in settings.get("DATABASES", {}).items():
        label = database_variable if alias == "default" else f"the {alias} database's URL"
        candidates.append((f"the password in {label}", str(database.get("PASSWORD") or "")))
    # Several URLs separated by ";" (failover): every one of them.
    for broker in str(settings.get("BROKER_URL") or "").split(";"):
        password = unquote(urlsplit(broker.strip()).password or "")
        candidates.append(("the password in BROKER_URL", password))
    inbound = str(settings.get("INBOUND_MAIL_URL") or "")  # tickets' support mailbox
    if inbound:
        password = unquote(urlsplit(inbound).password or "")
        candidates.append(("the password in INBOUND_MAIL_URL", password))
    for name in ("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"):
        candidates.append((name, env.str(name, default="")))
    for label, value in candidates:
        reason = example_reason(value) if value else None
        if reason:
            raise ImproperlyConfigured(
                f"{label} cannot be used in production: {reason}; {_GENERATE}."
            )


def refuse_demo_data() -> None:
    """The demo users' passwords are in the README: never on a real deployment."""
    if env.bool("SERVIDESK_SEED_DEMO", default=False):
        raise ImproperlyConfigured(
            "SERVIDESK_SEED_DEMO is set: demo users with published passwords cannot be "
            "created in production. Unset it and create the first admin with "
            "`python manage.py createsuperuser` (accounts)."
        )


def refuse_foreign_twilio(base_url: str) -> None:
    """``TWILIO_API_BASE_URL`` empty (Twilio itself) or https on api.twilio.com/*.twilio.com.

    Anything else would receive the account SID, the auth token and every SMS body.
    """
    if not base_url:
        return
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    twilio_host = host == "api.twilio.com" or host.endswith(".twilio.com")
    if parts.scheme != "https" or not twilio_host or parts.username or parts.password:
        raise ImproperlyConfigured(
            f"TWILIO_API_BASE_URL must be an https URL on a Twilio host (api.twilio.com or "
            f"*.twilio.com), not {base_url!r}; leave it unset to use https://api.twilio.com."
        )
