"""What tickets' OpenAPI schema says beyond what drf-spectacular infers."""

from typing import Any

from drf_spectacular.generators import SchemaGenerator


def ticket_component() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    component: dict[str, Any] = schema["components"]["schemas"]["Ticket"]
    return component


def test_version_is_documented_but_not_required_as_clients_do_not_get_it() -> None:
    ticket = ticket_component()
    assert "version" not in ticket["required"]
    assert "title" in ticket["required"]
    assert ticket["properties"]["version"]["description"].startswith("Staff only")
