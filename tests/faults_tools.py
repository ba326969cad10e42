"""What the fault tests use around a running stack: a broker proxy they can cut, direct
looks into the services' databases and queues, and polling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from kombu import Connection
from psycopg import sql
from stack import POSTGRES_URL
from stack import eventually as _eventually

from servidesk_testing.fakes import SmtpServer, _SmtpHandler
from servidesk_testing.proxy import TcpProxy

QUEUES = ("notifier.events", "reports.events", "tickets.users")


#: Recovery after a fault can take a while on a shared 2-core machine.
eventually = partial(_eventually, timeout=120)


# --- the broker -------------------------------------------------------------------------


@contextmanager
def broker_proxy(broker_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of ``broker_url`` and the URL that goes through it."""
    parts = urlsplit(broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    proxy.restore()
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    try:
        yield proxy, urlunsplit(parts._replace(netloc=netloc))
    finally:
        proxy.close()


def queue_depths(broker_url: str, prefix: str) -> dict[str, int]:
    """Messages waiting in each event queue and each dead-letter queue (direct, no proxy)."""
    depths: dict[str, int] = {}
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            for name in (f"{prefix}{queue}", f"{prefix}{queue}.dlq"):
                _, count, _ = channel.queue_declare(name, passive=True)
                depths[name] = int(count)
    return depths


# --- mail ------------------------------------------------------------------------------


class _SlowHandler(_SmtpHandler):
    server: SlowSmtpServer

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.sleep(self.server.data_delay)
        return await super().handle_DATA(smtp, session, envelope)


class SlowSmtpServer(SmtpServer):
    """The shared SMTP server, which can take ``data_delay`` seconds to accept each mail
    (a slow provider keeps a sender in the middle of its batch)."""

    data_delay = 0.0

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(_SlowHandler(self), hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller


# --- the databases ----------------------------------------------------------------------


class Databases:
    """Read-only looks into each service's own database, and PostgreSQL-side faults."""

    def __init__(self, env: dict[str, str], services: Sequence[str]) -> None:
        self.urls = {name: env[f"{name.upper()}_DATABASE_URL"] for name in services}

    def name(self, service: str) -> str:
        return self.urls[service].rsplit("/", 1)[1]

    def rows(self, service: str, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.urls[service], connect_timeout=10) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def value(self, service: str, query: str, params: Sequence[Any] = ()) -> Any:
        return self.rows(service, query, params)[0][0]

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True, connect_timeout=10)

    def terminate_backends(self, services: Sequence[str]) -> int:
        """Drop every connection the services hold to their databases; how many."""
        with self._admin() as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                ([self.name(s) for s in services],),
            ).fetchone()
        return int(row[0]) if row else 0

    def allow_connections(self, services: Sequence[str], allowed: bool) -> None:
        with self._admin() as conn:
            for service in services:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                        sql.Identifier(self.name(service)), sql.Literal(allowed)
                    )
                )

    @contextmanager
    def locked(self, service: str, table: str) -> Iterator[None]:
        """Hold a SHARE lock on ``table``: it can be read and rows locked, not written."""
        with psycopg.connect(self.urls[service], connect_timeout=10) as conn:
            conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(table)))
            yield

    @contextmanager
    def unreachable(self, services: Sequence[str]) -> Iterator[None]:
        """The services' databases refuse new connections and lose the ones they had."""
        self.allow_connections(services, False)
        try:
            self.terminate_backends(services)
            yield
        finally:
            self.allow_connections(services, True)
