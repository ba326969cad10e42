"""Routes under ``/api/accounts/`` (mounted by ``core.urls``)."""

from django.urls import path

from users.api import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/social/providers/", views.SocialProvidersView.as_view(), name="social-providers"),
    path("auth/social/exchange/", views.SocialExchangeView.as_view(), name="social-exchange"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("me/email/confirm/", views.EmailConfirmView.as_view(), name="email-confirm"),
    path(
        "me/email/send-confirmation/",
        views.EmailSendConfirmationView.as_view(),
        name="email-send-confirmation",
    ),
    path("me/phone/send-code/", views.PhoneSendCodeView.as_view(), name="phone-send-code"),
    path("me/phone/verify/", views.PhoneVerifyView.as_view(), name="phone-verify"),
    path("me/social/link/", views.SocialLinkView.as_view(), name="social-link-start"),
    path(
        "me/social/link/confirm/",
        views.SocialLinkConfirmView.as_view(),
        name="social-link-confirm",
    ),
    path("users/", views.UserListView.as_view(), name="user-list"),
    path("users/<str:user_id>/", views.UserDetailView.as_view(), name="user-detail"),
    path("api-keys/", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<int:key_id>/", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path("audit/", views.AuditListView.as_view(), name="audit-list"),
    # No database involved: the key set is served even while the database is down.
    path(".well-known/jwks.json", views.JWKSView.as_view(), name="jwks"),
]
