"""Envelopes and schemas: validated when publishing and when consuming."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from servidesk_shared.events import envelope, schemas
from tests.events import factories


def roundtrip(body: dict[str, Any]) -> envelope.Event[Any]:
    return envelope.decode(envelope.parse_envelope(json.dumps(body).encode()))


def test_every_contract_type_has_a_schema_and_ticket_events_are_at_version_2() -> None:
    assert {
        "user.registered",
        "user.updated",
        "user.deactivated",
        "ticket.created",
        "ticket.status_changed",
        "ticket.assigned",
        "ticket.commented",
        "verification.phone_code",
        "user.invite_requested",
        "mail.bounced",
        "report.export_ready",
        "notification.created",
        "ticket.updated",
        "ticket.merged",
        "team.created",
        "team.updated",
        "team.deleted",
        "ticket.sla_warning",
        "ticket.sla_breached",
        "ticket.rated",
        "ticket.closed",
    } == schemas.EVENT_TYPES
    assert {
        event_type: version
        for event_type, version in schemas.LATEST_VERSIONS.items()
        if version != 1
    } == {event_type: 2 for event_type in schemas.EVENT_TYPES if event_type.startswith("ticket.")}
    # What version 1 knew is still readable: consumers are deployed before producers.
    version_1 = {event_type for event_type, version in schemas.SCHEMAS if version == 1}
    assert {
        "ticket.created",
        "ticket.status_changed",
        "ticket.assigned",
        "ticket.commented",
        "ticket.updated",
        "ticket.merged",
    } <= version_1


def version_1_of(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as a producer of before the SLA issue would have sent it."""
    added = ("rating_token", "reply_comment_id")
    data = {key: value for key, value in body["data"].items() if key not in added}
    ticket = data["ticket"]
    for added in ("waiting_since", "follow_up_of_id", "rating"):
        ticket.pop(added)
    return {**body, "version": 1, "data": data}


def test_a_version_1_ticket_event_is_read_as_the_same_type_handlers_take() -> None:
    body = envelope.build(
        factories.status_changed("pending", "in_progress", id=7), producer="tickets", sequence=1
    )
    assert body["version"] == 2

    event = roundtrip(version_1_of(body))

    assert event.version == 1
    assert isinstance(event.data, schemas.TicketStatusChanged)
    assert event.data.to_status == "in_progress"
    assert event.data.ticket.waiting_since is None
    assert event.data.rating_token is None


@pytest.mark.parametrize("status", ["waiting", "closed"])
def test_version_1_never_carried_the_new_statuses(status: str) -> None:
    body = envelope.build(
        factories.status_changed("in_progress", status, id=7), producer="tickets", sequence=1
    )
    assert roundtrip(body).data.to_status == status  # version 2 reads them

    with pytest.raises(envelope.InvalidEventError, match="status"):
        roundtrip(version_1_of(body))


def test_envelope_has_the_contract_fields_and_round_trips() -> None:
    data = factories.status_changed("pending", "in_progress", id=42)
    body = envelope.build(data, producer="tickets", sequence=3)

    assert set(body) == {
        "id", "type", "version", "occurred_at", "producer", "aggregate_id", "sequence", "data",
    }  # fmt: skip
    assert uuid.UUID(body["id"])
    assert body["type"] == "ticket.status_changed"
    assert body["version"] == 2
    assert body["occurred_at"].endswith("Z")
    assert body["aggregate_id"] == "42"
    assert body["data"]["ticket"]["status"] == "in_progress"
    assert body["data"]["from_status"] == "pending"

    event = roundtrip(body)
    assert event.data == data
    assert event.sequence == 3
    assert event.occurred_at.utcoffset() is not None


def test_user_events_carry_the_contact_card() -> None:
    body = envelope.build(
        factories.user_card(schemas.UserDeactivated, is_active=False),
        producer="accounts",
        sequence=1,
    )
    assert body["type"] == "user.deactivated"
    assert set(body["data"]) == {
        "id", "username", "full_name", "email", "phone", "role", "language",
        "notify_email", "notify_sms", "is_active", "email_verified", "phone_verified",
    }  # fmt: skip
    assert body["aggregate_id"] == "7"


def test_a_card_from_before_verification_reads_as_unverified() -> None:
    body = envelope.build(factories.user_card(schemas.UserUpdated), producer="accounts", sequence=1)
    del body["data"]["email_verified"], body["data"]["phone_verified"]
    card = roundtrip(body).data
    assert (card.email_verified, card.phone_verified) == (False, False)


def test_unknown_fields_are_ignored_by_consumers() -> None:
    body = envelope.build(factories.ticket_created(), producer="tickets", sequence=1)
    body["new_envelope_field"] = {"x": 1}
    body["data"]["new_field"] = "from a newer producer"
    body["data"]["ticket"]["sla_level"] = "gold"

    assert roundtrip(body).data == factories.ticket_created()


def test_publishing_refuses_a_payload_that_breaks_its_schema() -> None:
    bad = factories.status_changed("pending", "archived")  # not a status
    with pytest.raises(envelope.InvalidEventError, match="archived"):
        envelope.build(bad, producer="tickets", sequence=1)


def test_naive_datetimes_are_refused() -> None:
    from datetime import datetime  # noqa: PLC0415

    bad = factories.ticket_created(created_at=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(envelope.InvalidEventError, match="timezone"):
        envelope.build(bad, producer="tickets", sequence=1)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda body: body.pop("id"), "missing required field `id`"),
        (lambda body: body.update(id="not-a-uuid"), "Invalid UUID"),
        (lambda body: body.update(sequence=0), "sequence"),
        (lambda body: body.update(occurred_at="2026-01-01T00:00:00"), "timezone"),
        (lambda body: body.update(version=3), "no schema for ticket.created version 3"),
        (lambda body: body.update(type="ticket.exploded"), "no schema"),
        (lambda body: body["data"]["ticket"].pop("status"), "status"),
        (lambda body: body["data"].update(actor_id=[1]), "actor_id"),
        (lambda body: body.update(aggregate_id="999"), "does not match"),
    ],
)
def test_consumers_reject_what_they_cannot_read(mutate: Any, error: str) -> None:
    body = envelope.build(factories.ticket_created(), producer="tickets", sequence=1)
    mutate(body)
    with pytest.raises(envelope.InvalidEventError, match=error):
        roundtrip(body)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"id": 1}', b"\xff\xfe"])
def test_garbage_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(envelope.InvalidEventError):
        envelope.parse_envelope(raw)
