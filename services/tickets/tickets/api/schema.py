"""OpenAPI corrections drf-spectacular cannot infer from the serializers.

The extensions are registered by importing this module (``TicketsConfig.ready``); the
postprocessing hook is listed in ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes

#: A user id as tickets answers it: a JSON number for accounts' integer ids, text otherwise
#: (``tickets.user_ids.render_user_id``).
USER_ID_SCHEMA: dict[str, Any] = {
    "oneOf": [build_basic_type(OpenApiTypes.INT), build_basic_type(OpenApiTypes.STR)],
    "description": "A user id: a number for accounts' integer ids, else a string.",
}


class OpaqueIdFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "tickets.api.fields.OpaqueIdField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return dict(USER_ID_SCHEMA)


#: The components drf-spectacular makes of ``tickets.api.serializers.TicketSerializer``
#: (list items) and ``TicketDetailSerializer`` (one ticket, with its SLA clocks).
TICKET_COMPONENTS = ("Ticket", "TicketDetail")


#: Ticket fields rendered for staff only, so they cannot be required properties.
STAFF_ONLY_FIELDS = ("version", "tags")


def version_is_staff_only(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``version`` and ``tags`` are rendered for staff only: not required properties.

    A ``POSTPROCESSING_HOOKS`` entry (drf-spectacular's public way to adjust the finished
    schema); ``kwargs`` are the generator, request and ``public`` flag it passes.
    """
    for component in TICKET_COMPONENTS:
        schema: dict[str, Any] = result["components"]["schemas"][component]
        schema["required"] = [
            name for name in schema.get("required", []) if name not in STAFF_ONLY_FIELDS
        ]
        schema["properties"]["version"]["description"] = (
            "Staff only: the optimistic-concurrency token to send back with a change."
        )
    return result
