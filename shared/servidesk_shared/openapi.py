"""drf-spectacular pieces for every service: the JWT scheme and documented error responses.

``ServideskAutoSchema`` (the services' ``DEFAULT_SCHEMA_CLASS``) adds the error statuses
an operation really answers, in the one error shape, to what its view documents:

* 400 when it takes a body or parameters (validation fails, or a text holds characters
  no service stores, such as NUL, even in a path parameter: ``extra.fields``);
* 401 when it reads a bearer token (a bad one is refused even where none is needed);
* 403 when it needs a signed-in caller (a role or a rule may refuse them);
* 404 when its path names an object (missing, or not the caller's to see);
* 413 when it takes a body (over ``DATA_UPLOAD_MAX_MEMORY_SIZE``);
* 429 when its view has throttles;
* 503 always (the database is unreachable; ``Retry-After`` says when to retry).

A view's own ``@extend_schema(responses=...)`` wins for any status it names, so a
domain status (409 for a refused workflow move) is documented where it happens.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_media_type_object
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class StatelessJWTScheme(SimpleJWTScheme):
    """Documents ``StatelessJWTAuthentication`` as the bearer JWT it is."""

    target_class = "servidesk_shared.auth.StatelessJWTAuthentication"
    name = "jwtAuth"


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """``{"message": str, "extra": {...}}``: every error of every API."""

    message = serializers.CharField(help_text="What went wrong, for a person to read.")
    extra = serializers.DictField(
        help_text=(
            "Machine-readable detail: `code`, and `fields` ({name: [message]}) for "
            "validation errors."
        )
    )

    class Meta:
        ref_name = "Error"


ERROR_DESCRIPTIONS = {
    400: "The request is not valid; `extra.fields` names each bad field.",
    401: "No valid access token.",
    403: "The caller's role, or a rule, does not allow this.",
    404: "No such object, or not one the caller may see.",
    405: (
        "The method is not allowed on what the path names (a path parameter that is not a "
        "valid id can name another resource, e.g. `categories/assign/`)."
    ),
    413: "The request body is too large.",
    429: "Too many requests; retry later.",
    503: "The service is temporarily unavailable; retry after `Retry-After` seconds.",
}


def error_response(description: str) -> OpenApiResponse:
    """An error response in the one shape, for ``@extend_schema(responses={409: ...})``."""
    return OpenApiResponse(ErrorSerializer, description=description)


class ServideskAutoSchema(AutoSchema):
    """drf-spectacular's schema with the error responses each operation can give."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            # Every optional query parameter reads an empty value as "not given" (django-filter's
            # rule, and what an HTML form with a blank field sends): say so.
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        responses: dict[str, Any] = operation["responses"]
        for status in self.error_statuses(operation):
            if str(status) not in responses:
                responses[str(status)] = self.error_response_object(ERROR_DESCRIPTIONS[status])
        return operation

    def error_response_object(self, description: str) -> dict[str, Any]:
        """The OpenAPI response of an error: ``ErrorSerializer`` in every media type we render."""
        schema = self.resolve_serializer(ErrorSerializer, "response").ref
        media_types = self.map_renderers("media_type")
        return {
            "content": {media: build_media_type_object(schema) for media in media_types},
            "description": description,
        }

    def error_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses = []
        takes_body = self.method in BODY_METHODS and "requestBody" in operation
        parameters = operation.get("parameters", [])
        if takes_body or any(p.get("in") in ("query", "path") for p in parameters):
            statuses.append(400)
        if self.view.get_authenticators():
            statuses.append(401)
        if self.requires_sign_in():
            statuses.append(403)
        if any(p.get("in") == "path" for p in parameters):
            statuses.extend((404, 405))
        if takes_body:
            statuses.append(413)
        if self.view.get_throttles():
            statuses.append(429)
        statuses.append(503)
        return statuses

    def requires_sign_in(self) -> bool:
        return not all(isinstance(p, AllowAny) for p in self.view.get_permissions())
