"""Scale-out on loopback (issue 21): more replicas, more creates per second, every event
still applied once.

One stack on PostgreSQL and RabbitMQ under names of its own, each process started on its
own (`faults_stack.py`): the gateway, accounts, tickets, both relays and the four
consumers (tickets, accounts, notifier, reports). Web, the notifier's senders, the
mailbox reader and the SLA watcher are not started: nothing here needs them, and on a
small machine they would only take CPU from what is measured.

1. One tickets replica (one gunicorn, ``WEB_CONCURRENCY=1``: one worker) and one of each
   consumer. ``WRITERS`` clients create tickets through nginx, ``CREATES`` a round, after
   a short warm-up and once the events made so far are consumed.
2. A second tickets gunicorn on a port of its own, the gateway rendered again with both
   in the tickets upstream (``TICKETS_UPSTREAMS``, as `make up` takes it) and restarted,
   and a second process of each consumer. A round the same way.
3. A second gateway beside the first with only the first tickets server in its upstream:
   ``BURSTS`` short bursts of ``BURST`` creates through each, in turn, so that whatever
   else runs on the machine sways both shapes alike (single rounds of one shape swung
   from 6 to 32 creates/s on the shared test machine). Each shape's figure: its creates
   over its bursts' time.

Then: creates per second rose (a coarse sanity check on a shared 2-core machine, not a
benchmark; the figures are logged), nginx's access log shows both tickets
replicas answered, and every ticket's ``ticket.created`` event was applied exactly once by
notifier and by reports: one inbox row per event id in each, one receipt in the client's
feed and one receipt email to the client in notifier, one ticket row in reports'
projection; nothing left in tickets' outbox, the queues or their dead-letter queues.

Which consumer replica applied an event: the test adds a column to each consumer's inbox
table, defaulting to the connection's ``application_name``, and starts every consumer
with its own ``PGAPPNAME`` (libpq's variable): the rows of the second shape's events name
both replicas of notifier's and of reports' queue (competing consumers). Every queue has
two consumers attached then (AMQP's queue declare answers the count).
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from faults_api import Desk, Person
from faults_stack import ProcessStack
from faults_tools import Databases, eventually, queue_depths
from kombu import Connection
from stack import (
    POSTGRES_URL,
    PREFIXES,
    RABBITMQ_URL,
    ROOT,
    SERVICES,
    drop_stack_resources,
    free_port,
)

sys.path.insert(0, str(ROOT / "scripts"))
import devstack

pytestmark = pytest.mark.stack
logger = logging.getLogger("scale_out")

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
#: Concurrent clients, each creating tickets one after the other through nginx.
WRITERS = 8
#: Creates per round of the first two steps (logged).
CREATES = 80
#: Then both shapes side by side, in turn: bursts of this many creates, this many of each.
BURST = 40
BURSTS = 6
#: Creates before measuring a shape: connections opened, a fresh worker's first requests.
WARM_UP = 24
#: Creates per second with two replicas over one (side by side) must rise by more than
#: this. The other runs on the shared 2-core test machine swayed single rounds of one
#: shape from 3 to 32 creates/s: a timed check is a coarse sanity check, not a benchmark
#: (bench/ measures), so it asserts only that creates rise, and logs the figures.
MIN_GAIN = 1.0
#: Each tickets replica answers at least this share of the second shape's creates.
MIN_SHARE = 0.3
APIS = ("accounts", "tickets")
RELAYS = ("accounts-relay", "tickets-relay")
CONSUMERS = ("tickets-consumer", "accounts-consumer", "notifier-consumer", "reports-consumer")
QUEUES = ("tickets.users", "accounts.invites", "notifier.events", "reports.events")
#: The consumers that apply ticket.created, with their queue.
TICKET_CONSUMERS = {"notifier": "notifier-consumer", "reports": "reports-consumer"}
INBOX = "servidesk_outbox_inboxentry"
OUTBOX = "servidesk_outbox_outboxmessage"
SETTLE = 180.0


@dataclass
class Round:
    shape: str
    creates: int
    seconds: float
    ticket_ids: list[str]

    @property
    def rate(self) -> float:
        return self.creates / self.seconds


@dataclass
class Scale:
    stack: ProcessStack
    dbs: Databases
    prefix: str
    writers: list[Person]
    #: The tickets replicas' addresses: the Procfile's, then the second one's.
    tickets_servers: tuple[str, str]
    #: Where the second gateway (one tickets server) keeps its config, and listens.
    one_gateway: dict[str, str]
    ticket_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scale]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    run = uuid.uuid4().hex[:8]
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_scale_{run}_{name}"
        for name in SERVICES
    }
    env |= {
        "BROKER_URL": RABBITMQ_URL,
        "SERVIDESK_EVENT_PREFIX": f"scale-{run}.",
        "SERVIDESK_ENV_FILE": "/dev/null",  # nobody's .env
        # The writers are a few clients on one address making hundreds of tickets a minute:
        # a load test's burst, which the gateway's zones and the write throttles (tested on
        # their own) would rightly refuse.
        "GATEWAY_API_RATE": "100000r/s",
        "GATEWAY_AUTH_RATE": "100000r/s",
        "THROTTLE_WRITE_USER": "off",
        "THROTTLE_WRITE_ANON": "off",
        "THROTTLE_LOGIN_IP": "off",
        "THROTTLE_LOGIN_ACCOUNT": "off",
        "LOG_JSON": "false",
    }
    with ExitStack() as cleanup:
        # Registered first, so it runs after every process has stopped.
        cleanup.callback(drop_stack_resources, env)
        stack = ProcessStack(tmp_path_factory.mktemp("scale"), env)
        cleanup.callback(stack.close)
        started = time.monotonic()
        stack.prepare()
        dbs = PatientDatabases(stack.env, SERVICES)
        for service in ("tickets", "accounts", "notifier", "reports"):
            mark_inbox_rows_with_their_consumer(dbs, service)
        for name in CONSUMERS:
            for replica in (1, 2):
                stack.add_replica(name, f"{name}-{replica}", PGAPPNAME=f"{name}-{replica}")
        second_port = free_port()
        stack.add_replica("tickets", "tickets-2", TICKETS_PORT=str(second_port))
        servers = (f"127.0.0.1:{stack.env['TICKETS_PORT']}", f"127.0.0.1:{second_port}")
        # A second gateway, for the one-replica shape once the stack has two.
        one_gateway = {
            "SERVIDESK_VAR_DIR": str(stack.var_dir / "gateway-one"),
            "GATEWAY_LISTEN": f"127.0.0.1:{free_port()}",
        }
        stack.add_replica("gateway", "gateway-one", **one_gateway)
        for name in ("gateway", *APIS, *RELAYS, *(f"{c}-1" for c in CONSUMERS)):
            stack.start(name)
        stack.wait_ready(services=APIS)
        logger.info("[scale] prepared and ready in %.1fs", time.monotonic() - started)
        desk = Desk({name: stack.service_url(name) for name in APIS})
        cleanup.callback(desk.close)
        writers = [desk.new_person("client") for _ in range(WRITERS)]
        ids = [person.id for person in writers]
        eventually(
            lambda: (
                dbs.value(
                    "tickets",
                    "SELECT count(*) FROM tickets_directoryuser WHERE id = ANY(%s)",
                    [ids],
                )
                == len(ids)
            ),
            timeout=SETTLE,
            what="the writers in tickets' directory",
        )
        yield Scale(stack, dbs, env["SERVIDESK_EVENT_PREFIX"], writers, servers, one_gateway)


class PatientDatabases(Databases):
    """Reads that wait for a free connection when the server has none left: the test's
    PostgreSQL may be shared with other runs, up to its ``max_connections``."""

    def rows(self, service: str, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        for _ in range(60):
            try:
                return super().rows(service, query, params)
            except psycopg.OperationalError as exc:
                if "too many clients" not in str(exc):
                    raise
                time.sleep(1)
        return super().rows(service, query, params)


def mark_inbox_rows_with_their_consumer(dbs: Databases, service: str) -> None:
    """A column of the test's own on ``service``'s inbox: the ``application_name`` of the
    connection that inserted the row, i.e. the consumer replica that applied the event.
    The consumer names the inbox's columns when it inserts, so the default fills it."""
    with psycopg.connect(dbs.urls[service], autocommit=True) as conn:
        conn.execute(
            f"ALTER TABLE {INBOX} ADD COLUMN applied_by text "
            "DEFAULT current_setting('application_name')"
        )


# --- load -------------------------------------------------------------------------------


def create_tickets(base_url: str, writers: list[Person], count: int, shape: str) -> Round:
    """``count`` tickets made through the gateway by the writers at once, each one create
    after the other on its own kept-alive connection; how long it took, and their ids."""
    numbers = itertools.count()

    def write(person: Person) -> list[str]:
        made: list[str] = []
        with httpx.Client(base_url=base_url, headers=person.headers, timeout=60) as client:
            while (number := next(numbers)) < count:
                response = client.post(
                    PREFIXES["tickets"],
                    json={"title": f"Escala {shape} {number}", "description": "Prueba de carga."},
                )
                assert response.status_code == 201, response.text
                made.append(str(response.json()["id"]))
        return made

    started = time.perf_counter()
    with ThreadPoolExecutor(len(writers)) as pool:
        made = [ticket for tickets in pool.map(write, writers) for ticket in tickets]
    seconds = time.perf_counter() - started
    assert len(made) == count
    return Round(shape, count, seconds, made)


def settled(scale: Scale) -> bool:
    """Everything published and nothing waiting in a queue: the next round starts clean."""
    unsent = scale.dbs.value("tickets", f"SELECT count(*) FROM {OUTBOX} WHERE sent_at IS NULL")  # noqa: S608
    waiting = queue_depths(RABBITMQ_URL, scale.prefix)
    return unsent == 0 and not any(waiting.values())


def measure(scale: Scale, shape: str) -> float:
    """Creates per second of one round, after a warm-up, once the events made so far are
    consumed (the last round's backlog takes no CPU from this one)."""
    warm_up = create_tickets(scale.stack.base_url, scale.writers, WARM_UP, shape)
    scale.ticket_ids += warm_up.ticket_ids
    eventually(lambda: settled(scale), timeout=SETTLE, what="events consumed")
    measured = create_tickets(scale.stack.base_url, scale.writers, CREATES, shape)
    scale.ticket_ids += measured.ticket_ids
    logger.info(
        "[scale] %s: %d creates in %.2fs, %.1f/s",
        shape,
        measured.creates,
        measured.seconds,
        measured.rate,
    )
    return measured.rate


def side_by_side(scale: Scale, gateways: dict[str, str]) -> dict[str, float]:
    """Creates per second of each shape (name -> its gateway), in short bursts taken in
    turn, so that whatever else runs on the machine sways them alike: all of a shape's
    creates over all of its bursts' time."""
    for shape, gateway in gateways.items():
        scale.ticket_ids += create_tickets(gateway, scale.writers, WARM_UP, shape).ticket_ids
    eventually(lambda: settled(scale), timeout=SETTLE, what="events consumed")
    seconds = dict.fromkeys(gateways, 0.0)
    for _ in range(BURSTS):
        for shape, gateway in gateways.items():
            burst = create_tickets(gateway, scale.writers, BURST, shape)
            scale.ticket_ids += burst.ticket_ids
            seconds[shape] += burst.seconds
    rates = {shape: BURSTS * BURST / spent for shape, spent in seconds.items()}
    logger.info(
        "[scale] side by side, %d bursts of %d each: %s",
        BURSTS,
        BURST,
        ", ".join(f"{shape} {rate:.1f}/s" for shape, rate in rates.items()),
    )
    return rates


def consumers_attached(prefix: str) -> dict[str, int]:
    """Consumers on each event queue (AMQP's passive declare answers the count)."""
    attached = {}
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            _, _, consumers = channel.queue_declare(f"{prefix}{queue}", passive=True)
            attached[queue] = int(consumers)
    return attached


def tickets_upstreams_used(scale: Scale, since: int) -> Counter[str]:
    """Creates per tickets server in the gateway's access log, from byte ``since`` on."""
    used: Counter[str] = Counter()
    with open(scale.stack.log_path("gateway"), "rb") as log:
        log.seek(since)
        for raw in log:
            line = raw.decode(errors="replace")
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry["method"] == "POST" and entry["uri"] == PREFIXES["tickets"]:
                used[entry["upstream"]] += 1
    return used


def scale_out(scale: Scale) -> None:
    """Two tickets replicas behind the gateway, two processes of each consumer."""
    stack = scale.stack
    second = scale.tickets_servers[1]
    stack.start("tickets-2")
    for name in CONSUMERS:
        stack.start(f"{name}-2")
    eventually(
        lambda: ready(f"http://{second}{PREFIXES['tickets']}health/ready"),
        timeout=SETTLE,
        what=f"the second tickets replica\n{stack.tail()}",
    )
    gateway_in_front_of(scale, scale.tickets_servers)
    # The second gateway: the one-replica shape (one tickets server) beside it.
    one = scale.one_gateway
    devstack.render_gateway(
        {
            **devstack_defaults(),
            **stack.env,
            **one,
            "TICKETS_UPSTREAMS": scale.tickets_servers[0],
        }
    )
    stack.start("gateway-one")
    eventually(
        lambda: ready(f"http://{one['GATEWAY_LISTEN']}/_gateway/health"),
        timeout=SETTLE,
        what="the second gateway",
    )
    eventually(
        lambda: set(consumers_attached(scale.prefix).values()) == {2},
        timeout=SETTLE,
        what="two consumers on every queue",
    )


def gateway_in_front_of(scale: Scale, servers: tuple[str, ...]) -> None:
    """The gateway restarted with ``servers`` in the tickets upstream, rendered as
    `make up` does it with ``TICKETS_UPSTREAMS`` (devstack's own defaults under the
    stack's environment)."""
    env = {**devstack_defaults(), **scale.stack.env, "TICKETS_UPSTREAMS": ",".join(servers)}
    devstack.render_gateway(env)
    scale.stack.stop("gateway")
    scale.stack.start("gateway")
    scale.stack.wait_ready(services=APIS)


def devstack_defaults() -> dict[str, str]:
    """What ``devstack.stack_environment`` adds to an environment that lacks it (ports of
    processes this test does not run, say)."""
    return {
        key: value for key, value in devstack.stack_environment().items() if key.endswith("_PORT")
    }


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# --- what was applied -------------------------------------------------------------------


def created_events(scale: Scale) -> dict[str, str]:
    """ticket id -> the event id of its ``ticket.created``, from tickets' outbox."""
    rows = scale.dbs.rows(
        "tickets",
        f"SELECT aggregate_id, event_id FROM {OUTBOX} "  # noqa: S608
        "WHERE event_type = 'ticket.created' AND aggregate_id = ANY(%s)",
        [scale.ticket_ids],
    )
    events: dict[str, str] = {}
    for ticket, event in rows:
        assert ticket not in events, f"ticket {ticket} has two ticket.created events"
        events[ticket] = str(event)
    return events


def per_key(scale: Scale, service: str, table: str, key: str, values: list[str]) -> Counter[str]:
    """Rows of ``table`` per ``key``, for the given values of it."""
    rows = scale.dbs.rows(
        service,
        f"SELECT {key}::text, count(*) FROM {table} WHERE {key}::text = ANY(%s) GROUP BY 1",  # noqa: S608
        [values],
    )
    return Counter({str(value): int(count) for value, count in rows})


def assert_once_each(counts: Counter[str], expected: list[str], what: str) -> None:
    missing = sorted(set(expected) - set(counts))
    twice = sorted(value for value, count in counts.items() if count != 1)
    assert (missing, twice) == ([], []), (
        f"{what}: {len(missing)} missing (e.g. {missing[:3]}), "
        f"{len(twice)} more than once (e.g. {twice[:3]})"
    )


def client_emails(scale: Scale, event_ids: list[str]) -> Counter[str]:
    """Email deliveries to the writers (each ticket's client), per event."""
    rows = scale.dbs.rows(
        "notifier",
        "SELECT event_id::text, count(*) FROM notifications_delivery "
        "WHERE channel = 'email' AND recipient_id = ANY(%s) AND event_id::text = ANY(%s) "
        "GROUP BY 1",
        [[person.id for person in scale.writers], event_ids],
    )
    return Counter({str(event): int(count) for event, count in rows})


def deliveries_by_kind(scale: Scale, event_ids: list[str]) -> dict[str, int]:
    rows = scale.dbs.rows(
        "notifier",
        "SELECT channel || ' ' || kind, count(*) FROM notifications_delivery "
        "WHERE event_id::text = ANY(%s) GROUP BY 1",
        [event_ids],
    )
    return {str(kind): int(count) for kind, count in rows}


def applied_by(scale: Scale, service: str, event_ids: list[str]) -> Counter[str]:
    rows = scale.dbs.rows(
        service,
        f"SELECT applied_by, count(*) FROM {INBOX} WHERE event_id::text = ANY(%s) GROUP BY 1",  # noqa: S608
        [event_ids],
    )
    return Counter({str(name): int(count) for name, count in rows})


# --- the test ---------------------------------------------------------------------------


def test_two_replicas_create_faster_and_apply_every_event_once(scale: Scale) -> None:
    alone = measure(scale, "one")
    before_second = len(scale.ticket_ids)
    scale_out(scale)
    log_offset = scale.stack.log_path("gateway").stat().st_size
    measure(scale, "two")
    second_shape = scale.ticket_ids[before_second:]

    # Both tickets replicas answered the second shape's creates, about in turn.
    used = tickets_upstreams_used(scale, log_offset)
    logger.info("[scale] creates per tickets replica: %s", dict(used))
    assert set(used) == set(scale.tickets_servers), used
    assert sum(used.values()) == len(second_shape)
    assert min(used.values()) >= MIN_SHARE * len(second_shape), used

    # The figures compared: both shapes side by side, in turn (the second consumers keep
    # running for both; they serve no creates).
    gateway_one = f"http://{scale.one_gateway['GATEWAY_LISTEN']}"
    rates = side_by_side(scale, {"one": gateway_one, "two": scale.stack.base_url})
    one, two = rates["one"], rates["two"]
    logger.info("[scale] the first round alone, one replica and one consumer each: %.1f/s", alone)
    logger.info("[scale] creates/s: one replica %.1f, two %.1f (%.2fx)", one, two, two / one)

    # Every ticket's ticket.created applied once by each consumer that applies it.
    events = created_events(scale)
    assert sorted(events) == sorted(scale.ticket_ids)
    event_ids = list(events.values())
    for service in TICKET_CONSUMERS:
        eventually(
            lambda s=service: (
                per_key(scale, s, INBOX, "event_id", event_ids).total() >= len(event_ids)
            ),
            timeout=SETTLE,
            what=f"{service}'s inbox to hold every ticket.created",
        )
    eventually(lambda: settled(scale), timeout=SETTLE, what="outbox and queues drained")
    for service in TICKET_CONSUMERS:
        assert_once_each(
            per_key(scale, service, INBOX, "event_id", event_ids),
            event_ids,
            f"{service}'s inbox",
        )
    # notifier: the client's receipt, in the feed and as one email to send.
    assert_once_each(
        per_key(scale, "notifier", "notifications_notification", "event_id", event_ids),
        event_ids,
        "notifier's receipts",
    )
    logger.info("[scale] notifier's deliveries: %s", deliveries_by_kind(scale, event_ids))
    assert_once_each(client_emails(scale, event_ids), event_ids, "notifier's receipt emails")
    # reports: one row of its ticket projection per ticket.
    assert_once_each(
        per_key(scale, "reports", "reports_ticketfact", "ticket_id", scale.ticket_ids),
        scale.ticket_ids,
        "reports' ticket projection",
    )
    depths = queue_depths(RABBITMQ_URL, scale.prefix)
    assert not any(depths.values()), depths

    # Competing consumers: both processes of each queue applied some of the second
    # shape's events.
    second_events = [events[ticket] for ticket in second_shape]
    for service, consumer in TICKET_CONSUMERS.items():
        by = applied_by(scale, service, second_events)
        logger.info("[scale] %s's second-shape events applied by %s", service, dict(by))
        assert set(by) == {f"{consumer}-1", f"{consumer}-2"}, by

    assert two > MIN_GAIN * one, (
        f"creates/s did not rise: one replica {one:.1f}/s, two {two:.1f}/s ({two / one:.2f}x)"
    )
