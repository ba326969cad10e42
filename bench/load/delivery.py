"""Did every event of the run reach every consumer? Counted in the databases and the broker.

Published: the outbox rows accounts and tickets wrote after a watermark taken before the
load. Delivered to a consumer: those of its subscribed types whose event id is in the
consumer's inbox (written in the same transaction as the effect). Plus what the broker
still holds: each queue's ready messages and its dead letters.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from kombu import Connection

from servidesk_shared.events.topology import DEAD_LETTER_SUFFIX, SUBSCRIPTIONS

PRODUCERS = ("accounts", "tickets")
#: consuming service -> its queue (ARCHITECTURE.md, "Events").
CONSUMERS = {"notifier": "notifier.events", "reports": "reports.events", "tickets": "tickets.users"}
OUTBOX = "servidesk_outbox_outboxmessage"
INBOX = "servidesk_outbox_inboxentry"


def database_url(env: Mapping[str, str], service: str) -> str:
    return env.get(f"{service.upper()}_DATABASE_URL") or env["DATABASE_URL"]


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more."""

    def match(words: list[str], keys: list[str]) -> bool:
        if not words:
            return not keys
        head, rest = words[0], words[1:]
        if head == "#":
            return any(match(rest, keys[i:]) for i in range(len(keys) + 1))
        return bool(keys) and head in {"*", keys[0]} and match(rest, keys[1:])

    return match(pattern.split("."), key.split("."))


def watermark(env: Mapping[str, str]) -> dict[str, int]:
    """The newest outbox id per producer: events after it belong to the run."""
    marks = {}
    for service in PRODUCERS:
        with psycopg.connect(database_url(env, service)) as conn:
            row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {OUTBOX}").fetchone()  # noqa: S608
            marks[service] = int(row[0]) if row else 0
    return marks


@dataclass
class ConsumerDelivery:
    queue: str
    expected: int
    delivered: int
    waiting_in_queue: int
    dead_letters: int

    @property
    def complete(self) -> bool:
        return self.delivered == self.expected and self.waiting_in_queue == 0


@dataclass
class Delivery:
    published: Counter[str] = field(default_factory=Counter)
    unsent: int = 0
    consumers: dict[str, ConsumerDelivery] = field(default_factory=dict)

    @property
    def total_published(self) -> int:
        return sum(self.published.values())

    @property
    def dead_letters(self) -> int:
        return sum(c.dead_letters for c in self.consumers.values())

    @property
    def complete(self) -> bool:
        """Nothing left to deliver (dead letters are counted apart: they never arrive)."""
        return self.unsent == 0 and all(c.complete for c in self.consumers.values())


def measure(env: Mapping[str, str], since: Mapping[str, int]) -> Delivery:
    result = Delivery()
    events: list[tuple[str, str]] = []  # (event id, type)
    for service in PRODUCERS:
        with psycopg.connect(database_url(env, service)) as conn:
            rows = conn.execute(
                f"SELECT event_id::text, event_type, sent_at IS NULL FROM {OUTBOX} WHERE id > %s",  # noqa: S608
                (since[service],),
            ).fetchall()
        for event_id, event_type, unsent in rows:
            events.append((event_id, event_type))
            result.published[event_type] += 1
            result.unsent += int(unsent)
    depths = queue_depths(env)
    for service, queue in CONSUMERS.items():
        patterns = SUBSCRIPTIONS[queue]
        ids = [i for i, kind in events if any(topic_matches(p, kind) for p in patterns)]
        with psycopg.connect(database_url(env, service)) as conn:
            row = conn.execute(
                f"SELECT count(*) FROM {INBOX} WHERE event_id = ANY(%s::uuid[])",  # noqa: S608
                (ids,),
            ).fetchone()
        result.consumers[service] = ConsumerDelivery(
            queue=queue,
            expected=len(ids),
            delivered=int(row[0]) if row else 0,
            waiting_in_queue=depths[queue],
            dead_letters=depths[f"{queue}{DEAD_LETTER_SUFFIX}"],
        )
    return result


def queue_depths(env: Mapping[str, str]) -> dict[str, int]:
    """Ready messages per queue and dead-letter queue (unacknowledged ones are the
    consumers' prefetch: they show as missing from the inbox until applied)."""
    prefix = env.get("SERVIDESK_EVENT_PREFIX", "")
    depths = {}
    with Connection(env["BROKER_URL"]) as broker:
        channel = broker.default_channel
        for queue in CONSUMERS.values():
            for name in (queue, f"{queue}{DEAD_LETTER_SUFFIX}"):
                try:
                    _, ready, _ = channel.queue_declare(f"{prefix}{name}", passive=True)
                except Exception:
                    channel = broker.channel()
                    ready = 0
                depths[name] = int(ready)
    return depths


def wait_until_delivered(
    env: Mapping[str, str], since: Mapping[str, int], timeout: float
) -> tuple[Delivery, float]:
    """Poll until every event is delivered (or ``timeout``); returns the last count and
    the seconds it took."""
    started = time.monotonic()
    while True:
        found = measure(env, since)
        waited = time.monotonic() - started
        if found.complete or waited > timeout:
            return found, waited
        time.sleep(1)


#: Every service that consumes events (accounts: ``user.invite_requested``).
ALL_CONSUMERS = ("accounts", "notifier", "reports", "tickets")


def work_counts(env: Mapping[str, str]) -> dict[str, int]:
    """Rows so far: ``<producer> outbox`` and ``<consumer> inbox``. Two readings bracket
    a stretch of the run: the difference is what the relays published and the consumers
    applied meanwhile (for CPU per event)."""
    counts = {}
    for service in ALL_CONSUMERS:
        with psycopg.connect(database_url(env, service)) as conn:
            if service in PRODUCERS:
                row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {OUTBOX}").fetchone()  # noqa: S608
                counts[f"{service} outbox"] = int(row[0]) if row else 0
            row = conn.execute(f"SELECT count(*) FROM {INBOX}").fetchone()  # noqa: S608
            counts[f"{service} inbox"] = int(row[0]) if row else 0
    return counts
