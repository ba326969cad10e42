"""Fixtures of the accounts tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import AdminFactory, ClientFactory, TechnicianFactory
from users.models import User
from users.tokens import token_pair_for


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters and login locks live in the cache: each test starts clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _mail_in_foreground(settings: Any) -> None:
    settings.EMAIL_SEND_IN_BACKGROUND = False


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_user(db: None) -> User:
    return ClientFactory(username="carla", email="carla@example.com", phone="+34600111222")


@pytest.fixture
def technician(db: None) -> User:
    return TechnicianFactory(username="tomas", email="tomas@example.com")


@pytest.fixture
def admin_user(db: None) -> User:
    return AdminFactory(username="ana", email="ana@example.com")


@pytest.fixture
def as_user() -> Callable[[User], APIClient]:
    """An API client carrying an access token of ``user``."""

    def make(user: User) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")
        return api

    return make
