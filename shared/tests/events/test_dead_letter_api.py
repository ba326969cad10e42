"""The dead-letter API every consuming service mounts, against the real RabbitMQ.

Dead letters are put in the test's own ``<prefix>notifier.events.dlq`` as the consumer
leaves them (its headers), plus one RabbitMQ dead-lettered itself (``x-death``) and one
without a message id.
"""

from __future__ import annotations

import json
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import include, path
from kombu import Connection, Producer
from rest_framework.test import APIClient

from servidesk_shared.events.deadletters import BODY_KEY_PREFIX, list_dead_letters
from servidesk_shared.events.topology import Topology
from servidesk_testing import auth_header
from tests.events.conftest import RABBITMQ_URL

urlpatterns = [
    path("api/test/dead-letters/", include("servidesk_shared.events.dead_letter_api")),
]

URL = "/api/test/dead-letters/"
QUEUE = "notifier.events"
ADMIN = auth_header(user_id=1, role="admin")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def urlconf(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


def put_dead_letter(
    topology: Topology,
    *,
    event_type: str = "ticket.created",
    error: str = "boom",
    message_id: str | None = None,
    x_death: bool = False,
) -> str:
    """One dead letter in the queue's dead-letter queue; its message id."""
    message_id = str(uuid.uuid4()) if message_id is None else message_id
    body = json.dumps({"id": message_id, "type": event_type, "data": {}})
    if x_death:
        headers: dict[str, Any] = {
            "x-death": [
                {
                    "reason": "rejected",
                    "count": 1,
                    "queue": topology.queue_name(QUEUE),
                    "routing-keys": [event_type],
                    "time": "2026-12-01T10:00:00Z",
                }
            ]
        }
    else:
        headers = {
            "x-servidesk-reason": "handler_failed",
            "x-servidesk-error": error,
            "x-servidesk-attempts": 3,
            "x-servidesk-queue": topology.queue_name(QUEUE),
            "x-servidesk-routing-key": event_type,
            "x-servidesk-failed-at": "2026-12-01T10:00:00+00:00",
        }
    with Connection(RABBITMQ_URL, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        topology.declare(channel)
        properties: dict[str, Any] = {"message_id": message_id} if message_id else {}
        Producer(channel).publish(
            body,
            exchange="",
            routing_key=topology.dead_letter_queue(QUEUE).name,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers=headers,
            **properties,
        )
    return message_id


def queue_ids(topology: Topology, name: str) -> list[str]:
    """The message ids waiting in ``name`` (left in place)."""
    ids: list[str] = []
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        held = []
        while (message := channel.basic_get(name, no_ack=False)) is not None:
            held.append(message)
            ids.append(str(message.properties.get("message_id", "")))
        channel.close()
    return ids


@pytest.fixture
def client() -> APIClient:
    return APIClient(headers=ADMIN)


@pytest.mark.parametrize("role", ["client", "technician"])
def test_admins_only(bus: Topology, role: str) -> None:
    caller = APIClient(headers=auth_header(user_id=2, role=role))
    assert caller.get(URL).status_code == 403
    assert caller.post(f"{URL}{uuid.uuid4()}/replay/").status_code == 403
    assert caller.delete(f"{URL}{uuid.uuid4()}/").status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_list_shows_why_each_failed_oldest_first(bus: Topology, client: APIClient) -> None:
    first = put_dead_letter(bus, event_type="ticket.created", error="Traceback\nKeyError: 'x'")
    second = put_dead_letter(bus, event_type="user.updated", x_death=True)
    put_dead_letter(bus, message_id="", event_type="ticket.assigned")

    body = client.get(URL).json()

    assert body["count"] == 3
    assert body["next"] is None
    assert body["previous"] is None
    one, two, three = body["results"]
    assert one["key"] == one["message_id"] == first
    assert one["event_type"] == "ticket.created"
    assert one["reason"] == "handler_failed"
    assert one["error"] == "Traceback\nKeyError: 'x'"
    assert one["attempts"] == 3
    assert one["failed_at"] == "2026-12-01T10:00:00+00:00"
    assert one["queue"] == bus.queue_name(QUEUE)
    assert json.loads(one["body"])["id"] == first
    assert (two["key"], two["event_type"], two["reason"]) == (second, "user.updated", "rejected")
    assert two["attempts"] == 1
    assert three["message_id"] == ""
    assert three["key"].startswith(BODY_KEY_PREFIX)
    # Listing leaves them all in place.
    assert len(list_dead_letters(QUEUE)) == 3


def test_pages_by_cursor(bus: Topology, client: APIClient) -> None:
    ids = [put_dead_letter(bus) for _ in range(5)]

    first = client.get(URL, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    assert [row["key"] for row in first["results"]] == ids[:2]
    assert [row["key"] for row in second["results"]] == ids[2:4]
    assert [row["key"] for row in third["results"]] == ids[4:]
    assert third["next"] is None
    assert [row["key"] for row in client.get(third["previous"]).json()["results"]] == ids[2:4]
    assert "cursor" not in second["previous"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "x"}, "page_size"),
        ({"cursor": "%%"}, "cursor"),
        ({"cursor": "bm9wZQ=="}, "cursor"),
    ],
)
def test_bad_paging_is_a_400(
    bus: Topology, client: APIClient, params: dict[str, str], field: str
) -> None:
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_replay_one_sends_it_back_to_its_queue_and_leaves_the_others(
    bus: Topology, client: APIClient
) -> None:
    ids = [put_dead_letter(bus) for _ in range(3)]

    response = client.post(f"{URL}{ids[1]}/replay/")

    assert response.status_code == 202
    assert response.json() == {"replayed": 1}
    assert [letter.key for letter in list_dead_letters(QUEUE)] == [ids[0], ids[2]]
    assert queue_ids(bus, bus.queue_name(QUEUE)) == [ids[1]]
    again = client.post(f"{URL}{ids[1]}/replay/")
    assert again.status_code == 404
    assert again.json()["message"]


def test_discard_one_deletes_it_and_leaves_the_others(bus: Topology, client: APIClient) -> None:
    ids = [put_dead_letter(bus) for _ in range(3)]
    nameless = put_dead_letter(bus, message_id="")
    [*_, last] = list_dead_letters(QUEUE)
    assert nameless == ""
    assert last.key.startswith(BODY_KEY_PREFIX)

    assert client.delete(f"{URL}{ids[0]}/").status_code == 204
    assert client.delete(f"{URL}{last.key}/").status_code == 204

    assert [letter.key for letter in list_dead_letters(QUEUE)] == ids[1:]
    assert queue_ids(bus, bus.queue_name(QUEUE)) == []  # not replayed
    assert client.delete(f"{URL}{ids[0]}/").status_code == 404
    assert client.delete(f"{URL}{'x' * 300}/").status_code == 404


def test_a_broker_out_of_reach_is_a_503(bus: Topology, client: APIClient, settings: Any) -> None:
    settings.BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    for response in (
        client.get(URL),
        client.post(f"{URL}{uuid.uuid4()}/replay/"),
        client.delete(f"{URL}{uuid.uuid4()}/"),
    ):
        assert response.status_code == 503
        assert response.json()["message"]


def test_a_service_that_consumes_nothing_has_no_dead_letters(
    bus: Topology, client: APIClient, settings: Any
) -> None:
    settings.SERVIDESK_EVENT_QUEUE = ""
    assert client.get(URL).status_code == 404


def test_the_command_discards_by_id(bus: Topology) -> None:
    ids = [put_dead_letter(bus) for _ in range(2)]
    with pytest.raises(CommandError, match="--id"):
        call_command("dead_letters", "discard")
    out = StringIO()
    call_command("dead_letters", "discard", "--id", ids[0], stdout=out)
    assert "discarded 1 message(s)" in out.getvalue()
    assert [letter.key for letter in list_dead_letters(QUEUE)] == [ids[1]]
