"""Fills a freshly migrated django-helpdesk database with what the bench needs.

Run with the throwaway virtualenv's Python and ``DJANGO_SETTINGS_MODULE=hdbench.settings``.
Creates one queue and one staff user (not a superuser: the API's ``IsAdminUser`` asks for
``is_staff``), then prints, as one JSON line, the credentials of the three ways the API
authenticates here: a DRF token, a logged-in session with its CSRF secret, and the password
for HTTP Basic (which Django checks with PBKDF2 on every request).
"""

from __future__ import annotations

import json
import os
import secrets

import django


def main() -> None:
    django.setup()
    from django.conf import settings  # noqa: PLC0415 (after setup)
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: PLC0415
    from django.contrib.auth.models import User  # noqa: PLC0415
    from django.contrib.sessions.backends.db import SessionStore  # noqa: PLC0415
    from helpdesk.models import EmailTemplate, Queue  # noqa: PLC0415
    from rest_framework.authtoken.models import Token  # noqa: PLC0415

    queue = Queue.objects.create(
        title="Bench",
        slug="bench",
        email_address="bench@example.com",
        allow_public_submission=False,
    )
    password = secrets.token_urlsafe(16)
    user = User.objects.create_user(
        "bench-staff", email="staff@example.com", password=password, is_staff=True
    )
    token = Token.objects.create(user=user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    print(
        json.dumps(
            {
                "queue": queue.pk,
                "username": user.username,
                "password": password,
                "token": token.key,
                "sessionid": session.session_key,
                # An unmasked CSRF secret (32 alphanumerics) is accepted in both the cookie and
                # the X-CSRFToken header; over plain HTTP there is no Referer check.
                "csrftoken": secrets.token_hex(16),
                "email_templates": EmailTemplate.objects.count(),
                "password_hasher": settings.PASSWORD_HASHERS[0],
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdbench.settings")
    main()
