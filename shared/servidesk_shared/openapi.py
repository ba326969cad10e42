"""drf-spectacular extensions for the shared pieces, loaded by the app config."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class StatelessJWTScheme(SimpleJWTScheme):
    """Documents ``StatelessJWTAuthentication`` as the bearer JWT it is."""

    target_class = "servidesk_shared.auth.StatelessJWTAuthentication"
    name = "jwtAuth"
