"""Fixtures: callers of each role (as tokens), the directory rows behind them, an API client."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from tickets import calendars
from tickets.actors import Actor
from tickets.models import Role

from servidesk_testing import make_access_token
from tests.factories import DirectoryUserFactory

#: Accent folding and search documents exist on PostgreSQL only (SQLite falls back to
#: substring matching); the suite also runs on SQLite with TICKETS_DATABASE_URL=sqlite:///...
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL full-text search only"
)


@dataclass(frozen=True)
class Caller:
    """Someone calling the API: their actor, and their bearer token."""

    id: int
    role: str
    username: str

    @property
    def actor(self) -> Actor:
        return Actor(id=str(self.id), role=self.role)

    @property
    def headers(self) -> dict[str, str]:
        token = make_access_token(user_id=self.id, role=self.role, username=self.username)
        return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


CALLERS = {
    "client": Caller(11, Role.CLIENT, "ana"),
    "other_client": Caller(12, Role.CLIENT, "bruno"),
    "technician": Caller(21, Role.TECHNICIAN, "tere"),
    "other_technician": Caller(22, Role.TECHNICIAN, "tomas"),
    "admin": Caller(31, Role.ADMIN, "alba"),
}


@pytest.fixture
def directory(db: Any) -> dict[str, Caller]:
    """Every caller above as an active user in the directory."""
    for caller in CALLERS.values():
        DirectoryUserFactory(
            id=str(caller.id),
            username=caller.username,
            full_name=caller.username.title() + " Example",
            role=caller.role,
        )
    return CALLERS


@pytest.fixture
def callers(directory: dict[str, Caller]) -> dict[str, Caller]:
    return directory


class Api:
    """A thin JSON client: ``api.post(url, data, as_=caller)``."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _headers(self, as_: Caller | None) -> dict[str, str]:
        return as_.headers if as_ else {"Accept-Language": "en"}

    def get(self, url: str, as_: Caller | None = None, **params: Any) -> Any:
        return self.client.get(url, params, headers=self._headers(as_))

    def post(self, url: str, data: Any = None, as_: Caller | None = None) -> Any:
        return self.client.post(
            url, data or {}, content_type="application/json", headers=self._headers(as_)
        )

    def patch(self, url: str, data: Any = None, as_: Caller | None = None) -> Any:
        return self.client.patch(
            url, data or {}, content_type="application/json", headers=self._headers(as_)
        )

    def put(self, url: str, data: Any = None, as_: Caller | None = None) -> Any:
        return self.client.put(
            url, data or {}, content_type="application/json", headers=self._headers(as_)
        )

    def delete(self, url: str, as_: Caller | None = None) -> Any:
        return self.client.delete(url, headers=self._headers(as_))


class QueryCounter:
    """``with assert_queries(n):`` counts the statements a request sends, without the
    savepoints a service's ``transaction.atomic`` makes inside the test's own transaction
    (in production they are a plain BEGIN/COMMIT, which Django does not log either)."""

    def __call__(self, expected: int) -> Any:
        return _count_queries(expected)


@contextlib.contextmanager
def _count_queries(expected: int) -> Iterator[CaptureQueriesContext]:
    # A running service keeps the SLA's settings in memory (tickets.calendars.current):
    # count the request as it runs there, not its first one after a change.
    calendars.current()
    with CaptureQueriesContext(connection) as context:
        yield context
    statements = [
        query["sql"]
        for query in context.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
    ]
    assert len(statements) == expected, "\n\n".join(statements)


@pytest.fixture
def assert_queries() -> QueryCounter:
    return QueryCounter()


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def open_ticket(callers: dict[str, Caller]) -> Callable[..., Any]:
    """Open a ticket through the service (history, events and all)."""
    from tickets import services  # noqa: PLC0415

    def make(owner: str = "client", **fields: Any) -> Any:
        caller = callers[owner]
        fields.setdefault("title", "Printer on floor 3 is jammed")
        fields.setdefault("description", "It shows error E-42 since this morning.")
        return services.ticket_create(actor=caller.actor, **fields)

    return make


@pytest.fixture(autouse=True)
def _fresh_sla_settings() -> Iterator[None]:
    """Each test's rolled-back writes must not outlive it in the process's copy of the
    SLA settings (calendars, targets): a rollback sends no signal to clear it."""
    calendars.forget()
    yield
    calendars.forget()
