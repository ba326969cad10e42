"""Whole-stack fixtures shared by the cross-service tests.

A stack is started at most once per session per shape and torn down at the end:
``embedded`` (SQLite + embedded broker, what a bare machine gets) and ``postgres``
(PostgreSQL + RabbitMQ through the environment, with databases and broker names of its
own that are dropped afterwards).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from stack import POSTGRES_URL, RABBITMQ_URL, SERVICES, Stack, drop_stack_resources, running_stack

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


class Stacks:
    def __init__(self, exit_stack: ExitStack, tmp: pytest.TempPathFactory) -> None:
        self._exit = exit_stack
        self._tmp = tmp
        self._running: dict[str, Stack] = {}

    def get(self, shape: str) -> Stack:
        if shape not in self._running:
            self._running[shape] = self._start(shape)
        return self._running[shape]

    def _start(self, shape: str) -> Stack:
        var = self._tmp.mktemp(shape)
        if shape == "embedded":
            # The developer's own .env must not move this run off the embedded defaults.
            env = {f"{n.upper()}_DATABASE_URL": "" for n in SERVICES}
            env |= {"DATABASE_URL": "", "BROKER_URL": ""}
        else:
            run = uuid.uuid4().hex[:8]
            env = {
                f"{n.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_e2e_{run}_{n}"
                for n in SERVICES
            }
            env |= {"BROKER_URL": RABBITMQ_URL, "SERVIDESK_EVENT_PREFIX": f"e2e-{run}."}
            # Registered first, so it runs after the stack has stopped.
            self._exit.callback(drop_stack_resources, env)
        return self._exit.enter_context(running_stack(var, env))


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    with ExitStack() as exit_stack:
        yield Stacks(exit_stack, tmp_path_factory)


@pytest.fixture(scope="session", params=["embedded", "postgres"])
def stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    """Each shape in turn: tests using it run against both."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    return stacks.get(request.param)


@pytest.fixture(scope="session")
def pg_stack(stacks: Stacks) -> Stack:
    """The production-like shape only: PostgreSQL and RabbitMQ."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    return stacks.get("postgres")
