"""Routes of the social-login browser flow under ``/accounts/`` (outside the API prefix).

The provider routes are allauth's (``google/login/``, ``google/login/callback/``, and the
same for ``facebook``). allauth's own pages (login, signup, errors, connections) are not
served: the names it redirects to lead back to web with an error instead.
"""

from allauth.urls import build_provider_urlpatterns
from django.urls import URLPattern, URLResolver, path

from users import social


def _guard(patterns: list[URLPattern | URLResolver]) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _guard(pattern.url_patterns)
        else:
            pattern.callback = social.unavailable_when_unconfigured(pattern.callback)


provider_urlpatterns = build_provider_urlpatterns()
_guard(provider_urlpatterns)

urlpatterns = [
    path("social/complete/", social.social_complete, name="social-complete"),
    path("login/", social.to_web("login_required"), name="account_login"),
    path("logout/", social.to_web("logged_out"), name="account_logout"),
    path("inactive/", social.to_web("inactive"), name="account_inactive"),
    path("3rdparty/", social.to_web("failed"), name="socialaccount_connections"),
    path("3rdparty/signup/", social.to_web("failed"), name="socialaccount_signup"),
    path(
        "3rdparty/login/cancelled/",
        social.to_web("cancelled"),
        name="socialaccount_login_cancelled",
    ),
    path("3rdparty/login/error/", social.to_web("failed"), name="socialaccount_login_error"),
    *provider_urlpatterns,
]
