"""The accounts API. Views only validate, call a service or selector, and shape the answer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import ListAPIView, ListCreateAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servidesk_shared.openapi import error_response
from servidesk_shared.pagination import CursorPage
from servidesk_shared.permissions import IsAdmin
from users import api_keys, selectors, services, throttles
from users.api import serializers
from users.models import ApiKey, AuditEntry, Role, User
from users.tokens import TokenPair, jwk_set


def _pair(pair: TokenPair) -> dict[str, str]:
    return {"access": pair.access, "refresh": pair.refresh}


def _caller(request: Request) -> User:
    """The person calling; an API key's caller (no account of its own) is refused, 403."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied(
            _("An API key cannot use this endpoint: it needs a person's account."),
            code="person_required",
        )
    return user


class PublicAPIView(APIView):
    """An endpoint for callers without a token; a stale ``Authorization`` header is ignored."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Bad credentials or tokens sent in the body are a 401 (a bearer challenge), not 403.
        return 'Bearer realm="api"'


# --- Sign-up, sign-in, tokens -----------------------------------------------------------


class RegisterView(PublicAPIView):
    throttle_classes = [throttles.RegisterIPThrottle, throttles.RegisterAccountThrottle]

    @extend_schema(
        request=serializers.RegisterSerializer,
        responses={201: serializers.MeSerializer},
        summary="Create a client account",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(serializers.MeSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(PublicAPIView):
    throttle_classes = [throttles.LoginIPThrottle, throttles.LoginAccountThrottle]

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="TokenObtainRequest",
            serializers=[serializers.LoginSerializer, serializers.ApiKeyExchangeSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="TokenObtainResponse",
                serializers=[serializers.TokenPairSerializer, serializers.AccessTokenSerializer],
                resource_type_field_name=None,
            ),
            401: error_response(
                "Wrong credentials, or the account is inactive or locked; or the API key is "
                "unknown, revoked (extra.code api_key_revoked) or expired (api_key_expired)."
            ),
        },
        summary="Sign in with a username or email and a password, or trade an API key for "
        "an access token (no refresh token: trade the key again)",
    )
    def post(self, request: Request) -> Response:
        data: Any = request.data
        if hasattr(data, "get") and "api_key" in data:
            return self._api_key(request, data)
        serializer = serializers.LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.auth_login(
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            request=request,
        )
        return Response(_pair(pair))

    def _api_key(self, request: Request, data: Any) -> Response:
        if "username" in data or "password" in data:
            raise ValidationError(
                {"api_key": [_("Send either an API key or a username and password, not both.")]}
            )
        serializer = serializers.ApiKeyExchangeSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        access = api_keys.api_key_exchange(
            key=serializer.validated_data["api_key"], request=request
        )
        return Response({"access": access})


class TokenRefreshView(PublicAPIView):
    throttle_classes = [throttles.RefreshIPThrottle]

    @extend_schema(
        request=serializers.RefreshSerializer,
        responses={
            200: serializers.TokenPairSerializer,
            401: error_response("The refresh token is invalid, expired, revoked or used."),
        },
        summary="Trade a refresh token for a new pair (the old one stops working)",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.auth_refresh(refresh=serializer.validated_data["refresh"])
        return Response(_pair(pair))


class LogoutView(PublicAPIView):
    throttle_classes = [throttles.RefreshIPThrottle]

    @extend_schema(
        request=serializers.RefreshSerializer,
        responses={204: None, 401: error_response("The refresh token is invalid or expired.")},
        summary="Revoke a refresh token",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.auth_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SocialExchangeView(PublicAPIView):
    throttle_classes = [throttles.SocialExchangeIPThrottle]

    @extend_schema(
        request=serializers.SocialExchangeSerializer,
        responses={
            200: serializers.TokenPairSerializer,
            401: error_response("The code is unknown, used or expired."),
        },
        summary="Trade the code the social-login flow gave web for a token pair",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.SocialExchangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.social_login_code_exchange(**serializer.validated_data)
        return Response(_pair(pair))


def _configured_providers(request: Request) -> list[tuple[str, str]]:
    """``(id, name)`` of the social providers configured here."""
    adapter = get_social_adapter(request)
    return [
        (provider_id, adapter.get_provider(request, provider_id).name)
        for provider_id in ("google", "facebook")
        if adapter.list_apps(request, provider=provider_id)
    ]


class SocialProvidersView(PublicAPIView):
    @extend_schema(
        responses={200: serializers.SocialProviderSerializer(many=True)},
        summary="The social sign-in providers configured here, with where to start each",
    )
    def get(self, request: Request) -> Response:
        providers = [
            {"id": provider_id, "name": name, "login_url": reverse(f"{provider_id}_login")}
            for provider_id, name in _configured_providers(request)
        ]
        return Response(providers)


class JWKSView(PublicAPIView):
    """The public key(s) tokens are signed with, for services that verify by JWK set."""

    @extend_schema(
        operation_id="jwks_retrieve",
        responses={200: OpenApiResponse(description="RFC 7517 JWK set")},
        summary="The JWK set of the token signing key",
    )
    def get(self, request: Request) -> Response:
        response = Response(jwk_set())
        response["Cache-Control"] = "public, max-age=300"
        return response


# --- Passwords --------------------------------------------------------------------------


class PasswordResetView(PublicAPIView):
    throttle_classes = [throttles.PasswordResetIPThrottle, throttles.PasswordResetAccountThrottle]

    @extend_schema(
        request=serializers.PasswordResetSerializer,
        responses={202: serializers.MessageSerializer},
        summary="Email a password-reset link (the answer is the same for any address)",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        message = _(
            "If an account uses this email address, a link to choose a new password is on its way."
        )
        return Response({"message": message}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(PublicAPIView):
    throttle_classes = [throttles.PasswordResetIPThrottle]

    @extend_schema(
        request=serializers.PasswordResetConfirmSerializer,
        responses={204: None},
        summary="Set a new password with the uid and token of a reset link",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=serializers.PasswordChangeSerializer,
        responses={200: serializers.TokenPairSerializer},
        summary="Change your password; other sessions end and a new pair is returned",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.user_change_password(user=_caller(request), **serializer.validated_data)
        return Response(_pair(pair))


# --- Profiles and users -----------------------------------------------------------------


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: serializers.MeSerializer}, summary="Your profile")
    def get(self, request: Request) -> Response:
        return Response(serializers.MeSerializer(_caller(request)).data)

    @extend_schema(
        request=serializers.MeUpdateSerializer,
        responses={200: serializers.MeSerializer},
        summary="Change your profile and notification preferences",
    )
    def patch(self, request: Request) -> Response:
        user = _caller(request)
        serializer = serializers.MeUpdateSerializer(user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=user, data=serializer.validated_data, actor=user)
        return Response(serializers.MeSerializer(user).data)


class EmailConfirmView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=serializers.EmailConfirmSerializer,
        responses={
            200: serializers.MeSerializer,
            400: error_response(
                "The link is invalid, expired, used, for an older address or another "
                "account, or another account uses the address."
            ),
        },
        summary="Confirm your email address with the token of the link mailed to it",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.EmailConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_email_confirm(
            user=_caller(request), token=serializer.validated_data["token"]
        )
        return Response(serializers.MeSerializer(user).data)


class EmailSendConfirmationView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            204: None,
            400: error_response("There is no address waiting for confirmation."),
            429: error_response("Too many confirmation emails for now (see Retry-After)."),
        },
        summary="Mail the confirmation link again (the pending address, else an unconfirmed one)",
    )
    def post(self, request: Request) -> Response:
        services.user_email_confirmation_send(user=_caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneSendCodeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            204: None,
            400: error_response("There is no phone number, or it is already verified."),
            429: error_response("A code was sent a moment ago (see Retry-After)."),
        },
        summary="Text a new 6-digit code to your phone number",
    )
    def post(self, request: Request) -> Response:
        services.user_phone_code_send(user=_caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneVerifyView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=serializers.PhoneVerifySerializer,
        responses={
            200: serializers.MeSerializer,
            400: error_response("The code is wrong, expired or used up."),
        },
        summary="Verify your phone number with the code texted to it",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.PhoneVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_phone_verify(
            user=_caller(request), code=serializer.validated_data["code"]
        )
        return Response(serializers.MeSerializer(user).data)


class SocialLinkView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=serializers.SocialLinkSerializer,
        responses={
            200: serializers.SocialLinkStartSerializer,
            400: error_response("That provider is not configured here."),
        },
        summary="Start linking a Google or Facebook login to your account",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.SocialLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = serializer.validated_data["provider"]
        if provider not in dict(_configured_providers(request)):
            raise ValidationError({"provider": [_("This provider is not available here.")]})
        token = services.social_link_start(user=_caller(request), provider=provider)
        return Response({"url": f"{reverse('social-link')}?{urlencode({'token': token})}"})


class SocialLinkConfirmView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=serializers.SocialLinkConfirmSerializer,
        responses={
            200: serializers.SocialLinkConfirmedSerializer,
            400: error_response(
                "Nothing was linked; extra.code says why: expired (unknown, used or expired "
                "code), not_yours (another account started it), other_browser (the nonce is "
                "not the one the link started with), already_linked (that provider login "
                "belongs to another account). The pending link is used up either way."
            ),
        },
        summary="Finish linking the provider login the link flow left waiting",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.SocialLinkConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = services.social_link_confirm(user=_caller(request), **serializer.validated_data)
        return Response({"provider": provider})


class StrictOrdering(OrderingFilter):
    """DRF's ordering, but an unknown field is a 400 naming the ones allowed, not ignored."""

    def remove_invalid_fields(
        self, queryset: Any, fields: Iterable[str], view: Any, request: Request
    ) -> list[str]:
        asked = list(fields)
        valid: list[str] = super().remove_invalid_fields(queryset, asked, view, request)
        if len(valid) != len(asked):
            allowed = ", ".join(getattr(view, "ordering_fields", None) or [])
            message = _("Order by one of: %(allowed)s (a leading - reverses it).") % {
                "allowed": allowed
            }
            raise ValidationError({"ordering": [message]})
        return valid


class UserPage(CursorPage):
    """Users newest first."""

    ordering = "-date_joined"


class UserListView(ListCreateAPIView[User]):
    """``GET``: the users, filtered by ``role``, ``is_active`` and ``q`` (admins).
    ``POST``: a user of any role (admins)."""

    permission_classes = [IsAdmin]
    serializer_class = serializers.UserSerializer
    pagination_class = UserPage
    filter_backends = [StrictOrdering]
    ordering_fields = ["date_joined", "username", "email", "full_name"]

    def get_queryset(self) -> Any:
        return selectors.user_list(actor=_caller(self.request), filters=self.request.query_params)

    @extend_schema(
        summary="List users (admins)",
        parameters=[
            OpenApiParameter("role", enum=["", *Role.values], description="Empty: any role"),
            OpenApiParameter("is_active", bool),
            OpenApiParameter("q", description="Text in the username, email or full name"),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=serializers.UserCreateSerializer,
        responses={201: serializers.UserSerializer},
        summary="Create a user with any role (admins)",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = serializers.UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(serializers.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    """One user, for admins; anyone else gets 404 so ids cannot be probed."""

    permission_classes = [IsAuthenticated]

    def get_object(self, request: Request, user_id: str) -> User:
        user = selectors.user_get(actor=_caller(request), user_id=user_id)
        if user is None:
            raise Http404
        return user

    @extend_schema(responses={200: serializers.UserSerializer}, summary="A user (admins)")
    def get(self, request: Request, user_id: str) -> Response:
        return Response(serializers.UserSerializer(self.get_object(request, user_id)).data)

    @extend_schema(
        request=serializers.UserUpdateSerializer,
        responses={200: serializers.UserSerializer},
        summary="Change a user's role, active flag or profile (admins)",
    )
    def patch(self, request: Request, user_id: str) -> Response:
        user = self.get_object(request, user_id)
        serializer = serializers.UserUpdateSerializer(
            user, data=request.data, partial=True, context={"actor": _caller(request)}
        )
        serializer.is_valid(raise_exception=True)
        user = services.user_update(
            user=user, data=serializer.validated_data, actor=_caller(request)
        )
        return Response(serializers.UserSerializer(user).data)


# --- API keys ---------------------------------------------------------------------------


class ApiKeyPage(CursorPage):
    """Keys newest first."""

    ordering = "-created_at"


class ApiKeyListView(ListAPIView[ApiKey]):
    """``GET``: the keys in force (not revoked), with their last use. ``POST``: a new key,
    shown once. Admins only, and only people: a key cannot create or list keys."""

    permission_classes = [IsAdmin]
    serializer_class = serializers.ApiKeySerializer
    pagination_class = ApiKeyPage

    def get_queryset(self) -> Any:
        _caller(self.request)
        return selectors.api_key_list()

    @extend_schema(summary="List the API keys in force, with their last use (admins)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=serializers.ApiKeyCreateSerializer,
        responses={201: serializers.ApiKeyCreatedSerializer},
        summary="Create an API key; the answer is the only one that shows the key (admins)",
    )
    def post(self, request: Request) -> Response:
        serializer = serializers.ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = api_keys.api_key_create(**serializer.validated_data, created_by=_caller(request))
        data = serializers.ApiKeySerializer(created.api_key).data
        return Response({**data, "key": created.key}, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        responses={204: None, 404: error_response("No key in force has this id.")},
        summary="Revoke an API key: it cannot be traded for tokens any more (admins)",
    )
    def delete(self, request: Request, key_id: int) -> Response:
        actor = _caller(request)
        api_key = selectors.api_key_get(key_id=key_id)
        if api_key is None:
            raise Http404
        api_keys.api_key_revoke(api_key=api_key, actor=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Audit trail ------------------------------------------------------------------------


class AuditPage(CursorPage):
    """Newest first."""

    ordering = ("-at", "-id")


class AuditListView(ListAPIView[AuditEntry]):
    """The audit trail of changes to users and API keys (admins)."""

    permission_classes = [IsAdmin]
    serializer_class = serializers.AuditEntrySerializer
    pagination_class = AuditPage

    def get_queryset(self) -> Any:
        return selectors.audit_list(filters=self.request.query_params)

    @extend_schema(
        summary="The audit trail: roles, activation, email addresses, API keys (admins)",
        parameters=[
            OpenApiParameter("user", int, description="Changes to this user (id)"),
            OpenApiParameter(
                "action",
                enum=AuditEntry.Action.values,
                many=True,
                description="Only these actions (repeatable)",
            ),
            OpenApiParameter("api_key", int, description="Entries about this API key (id)"),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after"),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Before"),
        ],
        responses={
            200: serializers.AuditEntrySerializer(many=True),
            400: error_response("A bad filter."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
