"""``report.export_ready`` (issue 22): the requester finds the file in their feed, in their
language, with web's link; once per event, however often it is delivered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from notifications.models import Contact, Delivery, Notification

from servidesk_shared.events.schemas import ReportExportReady
from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import as_event

EXPIRES = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ready(user_id: str, *, export_format: str = "pdf") -> ReportExportReady:
    return ReportExportReady(
        user_id=user_id,
        export_id="7f1c2a9e-3b7d-4e4b-9a43-0c1d2e3f4a5b",
        format=export_format,  # type: ignore[arg-type]
        download_path="/reports/exports/7f1c2a9e-3b7d-4e4b-9a43-0c1d2e3f4a5b/",
        expires_at=EXPIRES,
    )


@pytest.mark.django_db
def test_the_requester_is_told_in_their_language_once(
    people: dict[str, Contact], deliver: Callable[..., Any], settings: Any
) -> None:
    settings.WEB_BASE_URL = "https://desk.example"
    event = as_event(ready("3"))
    Contact.objects.filter(user_id="3").update(language="es")
    deliver(ready("3"), event=event)
    deliver(ready("3"), event=event)  # redelivered: nothing more

    (entry,) = Notification.objects.filter(recipient_id="3")
    assert entry.title == "Tu informe está listo"
    assert entry.event_type == "report.export_ready"
    assert entry.ticket_id == ""
    assert "PDF" in entry.body
    assert (
        "https://desk.example/reports/exports/7f1c2a9e-3b7d-4e4b-9a43-0c1d2e3f4a5b/" in entry.body
    )
    assert not Delivery.objects.exists()  # the feed only: no mail, no SMS
    (announced,) = OutboxMessage.objects.filter(event_type="notification.created")
    assert announced.envelope["data"]["user_id"] == "3"
    assert announced.envelope["data"]["ticket_id"] is None
    assert announced.envelope["data"]["title"] == "Tu informe está listo"


@pytest.mark.django_db
def test_english_and_an_unknown_user_get_the_default_language(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    deliver(ready("2", export_format="xlsx"))  # Tom reads English
    deliver(ready("99", export_format="csv"))  # no contact card yet: the default language
    tom = Notification.objects.get(recipient_id="2")
    assert tom.title == "Your report is ready"
    assert "XLSX" in tom.body
    assert Notification.objects.get(recipient_id="99").title == "Tu informe está listo"


@pytest.mark.django_db
def test_a_deactivated_user_is_not_told(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    Contact.objects.filter(user_id="1").update(is_active=False)
    deliver(ready("1"))
    assert not Notification.objects.filter(recipient_id="1").exists()
