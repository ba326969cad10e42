"""Routes of the social-login browser flow under ``/accounts/`` (outside the API prefix).

The provider routes are allauth's (``google/login/``, ``google/login/callback/``, and the
same for ``facebook``), wrapped: the login view needs web's nonce or a link started here,
the callback knows who is linking. ``social/link/`` starts a link from the profile.
allauth's own pages (login, signup, errors, connections) are not served: the names it
redirects to lead back to web with an error instead.
"""

from allauth.urls import build_provider_urlpatterns
from django.urls import URLPattern, URLResolver, path

from users import social


def _guard(patterns: list[URLPattern | URLResolver]) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _guard(pattern.url_patterns)
            continue
        view = pattern.callback
        name = pattern.name or ""
        if name.endswith("_login"):
            view = social.start_bound_to_browser(view)
        elif name.endswith("_callback"):
            view = social.callback_as_link_user(view)
        pattern.callback = social.unavailable_when_unconfigured(view)


provider_urlpatterns = build_provider_urlpatterns()
_guard(provider_urlpatterns)

urlpatterns = [
    path("social/complete/", social.social_complete, name="social-complete"),
    path("social/link/", social.social_link, name="social-link"),
    # allauth's connect would end here; our adapter ends every link at web before that.
    path("social/link/complete/", social.to_web("failed"), name="social-link-complete"),
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
