"""OpenAPI corrections drf-spectacular cannot infer from the serializers.

Registered by importing this module (``TicketsConfig.ready``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes

#: A user id as tickets answers it: a JSON number for accounts' integer ids, text otherwise
#: (``tickets.api.fields.render_user_id``).
USER_ID_SCHEMA: dict[str, Any] = {
    "oneOf": [build_basic_type(OpenApiTypes.INT), build_basic_type(OpenApiTypes.STR)],
    "description": "A user id: a number for accounts' integer ids, else a string.",
}


class OpaqueIdFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "tickets.api.fields.OpaqueIdField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return dict(USER_ID_SCHEMA)


class TicketSerializerSchema(OpenApiSerializerExtension):
    """``version`` is rendered for staff only, so it cannot be a required property."""

    target_class = "tickets.api.serializers.TicketSerializer"

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        schema["required"] = [name for name in schema.get("required", []) if name != "version"]
        version = schema["properties"]["version"]
        version["description"] = (
            "Staff only: the optimistic-concurrency token to send back with a change."
        )
        return schema
