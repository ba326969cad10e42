"""Fixtures: the four APIs faked at the HTTP boundary, and signed-in browsers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.core.cache import cache
from django.test import Client
from portal.api import http
from pytest_django.fixtures import Settings

from tests.fakes import HOSTS, FakeApis, sign_in_client


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def apis(settings: Settings) -> Iterator[FakeApis]:
    for name, url in HOSTS.items():
        setattr(settings, f"{name.upper()}_API_URL", url)
    fake = FakeApis()
    fake.on("notifier", "GET", "unread-count/", body={"count": 0})
    http.use_transport(httpx.MockTransport(fake))
    yield fake
    http.use_transport(None)


@pytest.fixture
def client_user(client: Client, apis: FakeApis) -> Client:
    sign_in_client(client, role="client", user_id=7, username="ana")
    return client


@pytest.fixture
def technician(client: Client, apis: FakeApis) -> Client:
    sign_in_client(client, role="technician", user_id=3, username="tecnico1")
    return client


@pytest.fixture
def admin(client: Client, apis: FakeApis) -> Client:
    sign_in_client(client, role="admin", user_id=1, username="admin")
    return client
