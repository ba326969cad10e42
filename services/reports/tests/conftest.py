"""Fixtures: the known data set applied through the event handlers, and API callers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from reports.models import OpenSpell, Person, StatusChange, Team, TicketFact, TicketTag

from servidesk_testing import auth_header
from tests.dataset import build_desk
from tests.desk import Desk

ADMIN_ID = 1


@pytest.fixture(autouse=True)
def madrid(settings: Any) -> None:
    """Reports count days in Madrid in these tests (the default is TIME_ZONE, UTC)."""
    settings.REPORTS_TIME_ZONE = "Europe/Madrid"


PROJECTION_MODELS = (Person, Team, TicketFact, TicketTag, StatusChange, OpenSpell)
_projection_cache: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture
def desk(db: None) -> Desk:
    """The known data set, applied through the handlers once per session.

    The first test applies every event; the rows it produced are kept and later tests
    insert those same rows directly (a handful of queries instead of several hundred).
    """
    desk = build_desk()
    if not _projection_cache:
        desk.apply()
        for model in PROJECTION_MODELS:
            _projection_cache[model.__name__] = list(model.objects.order_by("pk").values())
    else:
        for model in PROJECTION_MODELS:
            model.objects.bulk_create(model(**row) for row in _projection_cache[model.__name__])
    return desk


@pytest.fixture
def admin_client() -> Client:
    return Client(headers=auth_header(user_id=ADMIN_ID, role="admin"))


@pytest.fixture
def api(admin_client: Client) -> Any:
    """``api(path, **params)``: an admin GET under /api/reports/."""

    def get(path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return admin_client.get(f"/api/reports/{path}", params, headers=headers or {})

    return get
