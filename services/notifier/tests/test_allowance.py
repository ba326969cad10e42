"""Per-recipient daily caps (``SMS_MAX_PER_RECIPIENT_PER_DAY``,
``EMAIL_MAX_PER_RECIPIENT_PER_DAY``): over the cap a delivery is skipped with the reason,
never left queued; a retry takes no second slot; two senders never hand out one slot twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from notifications import services
from notifications.models import Contact, Delivery, RecipientAllowance
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import TicketStatusChanged
from tests.conftest import drain
from tests.factories import DeliveryFactory, TicketSnapshotFactory
from tests.fakes import SmtpServer, TwilioFake, wait_until
from tests.senders import drain_with_senders_at_once

pytestmark = pytest.mark.django_db

LUCIA = "+34600111222"
SMS_OVER_CAP = "over the daily cap of {} SMS to this number (SMS_MAX_PER_RECIPIENT_PER_DAY)"


def record_status_changes(count: int, *, assignee: int | None = None) -> None:
    """``count`` status changes of Lucía's tickets, each recorded as the consumer would."""
    for _ in range(count):
        data = TicketStatusChanged(
            ticket=TicketSnapshotFactory(client_id=1, assignee_id=assignee),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
        with transaction.atomic():
            services.notifications_record(
                event_id=uuid.uuid4(), event_type="ticket.status_changed", data=data
            )


def sms_outcomes() -> list[tuple[str, str]]:
    return list(
        Delivery.objects.filter(channel="sms").order_by("id").values_list("status", "last_error")
    )


def test_the_21st_sms_to_one_number_in_a_day_is_skipped_with_the_reason(
    people: dict[str, Contact], twilio: TwilioFake
) -> None:
    record_status_changes(21)
    drain("sms")
    assert len(twilio.wait_for(20)) == 20
    assert sms_outcomes() == [("sent", "")] * 20 + [("skipped", SMS_OVER_CAP.format(20))]
    assert twilio.request_count == 20
    assert not Delivery.objects.filter(channel="sms", status="queued").exists()
    counter = RecipientAllowance.objects.get(channel="sms", address=LUCIA)
    assert (counter.day, counter.count) == (timezone.localdate(), 20)


def test_the_cap_is_per_number(people: dict[str, Contact], twilio: TwilioFake) -> None:
    """Lucía at her cap keeps no one else from being texted."""
    RecipientAllowance.objects.create(
        channel="sms", address=LUCIA, day=timezone.localdate(), count=20
    )
    record_status_changes(1, assignee=2)
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert sms.to == people["tech"].phone
    assert Delivery.objects.get(channel="sms", recipient_id="1").last_error == (
        SMS_OVER_CAP.format(20)
    )


def test_a_new_day_starts_a_new_count(people: dict[str, Contact], twilio: TwilioFake) -> None:
    yesterday = timezone.localdate() - timedelta(days=1)
    RecipientAllowance.objects.create(channel="sms", address=LUCIA, day=yesterday, count=20)
    record_status_changes(1)
    drain("sms")
    twilio.wait_for(1)
    counter = RecipientAllowance.objects.get(channel="sms", address=LUCIA)
    assert (counter.day, counter.count) == (timezone.localdate(), 1)


def test_a_retried_sms_takes_one_slot(
    people: dict[str, Contact],
    twilio: TwilioFake,
    settings: Settings,
    slow_retries: Callable[[], None],
) -> None:
    settings.SMS_MAX_PER_RECIPIENT_PER_DAY = 1
    twilio.fail_next(500)
    record_status_changes(1)
    drain("sms")
    assert Delivery.objects.get(channel="sms").status == "queued"  # to be retried
    slow_retries()
    drain("sms")
    assert len(twilio.wait_for(1)) == 1
    delivery = Delivery.objects.get(channel="sms")
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert RecipientAllowance.objects.get(channel="sms", address=LUCIA).count == 1


def test_mail_over_the_cap_is_skipped_with_the_reason(
    people: dict[str, Contact], smtp: SmtpServer, settings: Settings
) -> None:
    settings.EMAIL_MAX_PER_RECIPIENT_PER_DAY = 3
    record_status_changes(4)
    drain("email")
    assert len(smtp.wait_for(3)) == 3
    outcomes = list(
        Delivery.objects.filter(channel="email").order_by("id").values_list("status", "last_error")
    )
    assert outcomes == [("sent", "")] * 3 + [
        (
            "skipped",
            "over the daily cap of 3 emails to this address (EMAIL_MAX_PER_RECIPIENT_PER_DAY)",
        )
    ]


# --- under concurrency ------------------------------------------------------------------


def waiting_for_a_row_lock() -> bool:
    """Whether a session of this database waits for a lock another one holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        ((count,),) = cursor.fetchall()
    return bool(count)


@pytest.mark.django_db(transaction=True)
def test_a_sender_waits_for_anothers_slot_before_counting(people: dict[str, Contact]) -> None:
    """The last slot, wanted by two at once: while one sender holds the number's counter
    (its transaction not yet committed), the other waits, then sees the cap reached.
    Without the row lock it would read 19, and both would send a 20th."""
    RecipientAllowance.objects.create(
        channel="sms", address=LUCIA, day=timezone.localdate(), count=19
    )
    delivery = DeliveryFactory(channel="sms", recipient_id="1")
    holding, release = threading.Event(), threading.Event()
    results: list[Any] = []

    def first_sender() -> None:
        try:
            with transaction.atomic():
                counter = RecipientAllowance.objects.select_for_update().get(address=LUCIA)
                holding.set()
                release.wait(10)
                counter.count += 1  # the 20th slot, taken
                counter.save()
        finally:
            connection.close()

    def second_sender() -> None:
        try:
            results.append(
                services.delivery_take_allowance(channel="sms", wanted=[(delivery, LUCIA)])
            )
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=first_sender)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=second_sender)
    second.start()
    assert wait_until(waiting_for_a_row_lock, timeout=10), "the second sender did not wait"
    assert results == [], "the second sender counted without waiting for the first"
    release.set()
    first.join(10)
    second.join(10)
    assert results == [{delivery.pk: SMS_OVER_CAP.format(20)}]
    assert RecipientAllowance.objects.get(address=LUCIA).count == 20
    delivery.refresh_from_db()
    assert delivery.allowance_day is None


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_no_more_than_the_cap(
    people: dict[str, Contact], twilio: TwilioFake, settings: Settings
) -> None:
    settings.NOTIFIER_BATCH_SIZE = 1  # many small claims: the two interleave
    record_status_changes(30)
    drain_with_senders_at_once("sms")
    assert len(twilio.wait_for(20)) == 20
    assert twilio.request_count == 20
    statuses = sorted(Delivery.objects.filter(channel="sms").values_list("status", flat=True))
    assert statuses == ["sent"] * 20 + ["skipped"] * 10
    assert RecipientAllowance.objects.get(channel="sms", address=LUCIA).count == 20


# --- start-up checks --------------------------------------------------------------------


def test_a_country_code_nobody_numbers_under_stops_the_start(settings: Settings) -> None:
    from notifications.checks import paid_channel_limits  # noqa: PLC0415

    assert paid_channel_limits() == []
    settings.SMS_ALLOWED_COUNTRIES = "EU,UK,ESP"
    settings.SMS_MAX_PER_RECIPIENT_PER_DAY = -1
    assert [(error.id, error.msg) for error in paid_channel_limits()] == [
        (
            "notifications.E001",
            "SMS_ALLOWED_COUNTRIES names unknown country codes: ESP, UK.",
        ),
        ("notifications.E002", "SMS_MAX_PER_RECIPIENT_PER_DAY must be 0 or more."),
    ]
