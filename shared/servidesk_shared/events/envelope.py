"""The envelope every event travels in, and the checks on both ends.

``{"id", "type", "version", "occurred_at", "producer", "aggregate_id", "sequence", "data"}``

``aggregate_id`` names the thing the event is about (the ticket or the user) and
``sequence`` counts that aggregate's events from 1, in commit order. They sit in the
envelope, not in ``data``, so a consumer can order and deduplicate any event without
knowing its payload: a projection stores the last sequence it applied per aggregate and
ignores anything older (see ``projection.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from servidesk_shared.events.schemas import SCHEMAS, EventData, UtcDateTime

D = TypeVar("D", bound=EventData)
Positive = Annotated[int, msgspec.Meta(ge=1)]


class InvalidEventError(ValueError):
    """The message is not an event this process can read: it goes to the dead letters."""


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope with its payload still raw: enough to route, deduplicate and order."""

    id: uuid.UUID
    type: str
    version: Positive
    occurred_at: UtcDateTime
    producer: str
    aggregate_id: str
    sequence: Positive
    data: msgspec.Raw


@dataclass(frozen=True, slots=True)
class Event(Generic[D]):
    """An envelope with its payload decoded into its schema: what handlers receive."""

    id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    aggregate_id: str
    sequence: int
    data: D


def build(
    data: EventData, *, producer: str, sequence: int, occurred_at: datetime | None = None
) -> dict[str, Any]:
    """The envelope of ``data`` as JSON-ready builtins, validated like a consumer would."""
    payload = msgspec.to_builtins(data)
    # Structs are not type-checked when built in Python: decode what we would send.
    _decode_data(type(data).type, type(data).version, payload)
    when = (occurred_at or datetime.now(tz=UTC)).astimezone(UTC)
    return {
        "id": str(uuid.uuid4()),
        "type": data.type,
        "version": data.version,
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "aggregate_id": data.aggregate_id,
        "sequence": sequence,
        "data": payload,
    }


def parse_envelope(body: bytes | str | Mapping[str, Any]) -> Envelope:
    """The envelope of a received message; ``InvalidEventError`` when it is not one."""
    try:
        if isinstance(body, Mapping):
            body = msgspec.json.encode(body)
        return msgspec.json.decode(body, type=Envelope)
    except (msgspec.DecodeError, TypeError) as exc:
        raise InvalidEventError(f"not an event envelope: {exc}") from exc


def decode(envelope: Envelope) -> Event[EventData]:
    """The event with its payload checked against the schema of its type and version."""
    data = _decode_data(envelope.type, envelope.version, envelope.data)
    if data.aggregate_id != envelope.aggregate_id:
        raise InvalidEventError(
            f"aggregate_id {envelope.aggregate_id!r} does not match the payload's "
            f"{data.aggregate_id!r}"
        )
    return Event(
        id=envelope.id,
        type=envelope.type,
        version=envelope.version,
        occurred_at=envelope.occurred_at,
        producer=envelope.producer,
        aggregate_id=envelope.aggregate_id,
        sequence=envelope.sequence,
        data=data,
    )


def _decode_data(event_type: str, version: int, payload: Any) -> EventData:
    schema = SCHEMAS.get((event_type, version))
    if schema is None:
        raise InvalidEventError(f"no schema for {event_type} version {version}")
    try:
        if isinstance(payload, msgspec.Raw):
            return msgspec.json.decode(payload, type=schema)
        return msgspec.convert(payload, schema)
    except msgspec.ValidationError as exc:
        raise InvalidEventError(f"{event_type} v{version}: {exc}") from exc
