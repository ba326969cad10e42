"""The in-app feed: exactly the contract's shapes, only the caller's own notifications.

Query counts include the caller's read in the user directory (``SERVIDESK_USER_DIRECTORY``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from notifications.models import Notification

from servidesk_testing import auth_header
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications/"


def feed_of(user_id: str, count: int, *, read: int = 0) -> list[Notification]:
    now = timezone.now()
    return [
        NotificationFactory(
            recipient_id=user_id,
            created_at=now - timedelta(minutes=index),
            read_at=now if index < read else None,
        )
        for index in range(count)
    ]


def test_list_is_the_callers_own_newest_first(
    client: Client, django_assert_num_queries: Any
) -> None:
    mine = feed_of("7", 3)
    feed_of("8", 2)
    with django_assert_num_queries(2):
        response = client.get(URL, headers=auth_header(user_id=7))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert [item["id"] for item in body["results"]] == [n.pk for n in mine]
    first = body["results"][0]
    assert set(first) == {"id", "event_type", "ticket_id", "title", "body", "read", "created_at"}
    assert first["read"] is False
    assert first["event_type"] == "ticket.status_changed"


def test_unread_filter(client: Client) -> None:
    notifications = feed_of("7", 5, read=2)
    unread = client.get(URL, {"unread": "true"}, headers=auth_header(user_id=7)).json()
    assert [n["id"] for n in unread["results"]] == [n.pk for n in notifications[2:]]
    read = client.get(URL, {"unread": "false"}, headers=auth_header(user_id=7)).json()
    assert [n["id"] for n in read["results"]] == [n.pk for n in notifications[:2]]
    assert all(n["read"] for n in read["results"])


def test_a_bad_unread_value_is_a_validation_error(client: Client) -> None:
    response = client.get(URL, {"unread": "maybe"}, headers=auth_header(user_id=7))
    assert response.status_code == 400
    assert "unread" in response.json()["extra"]["fields"]


def test_pagination_walks_every_page_once(client: Client, django_assert_num_queries: Any) -> None:
    feed_of("7", 30)
    seen: list[int] = []
    url: str | None = URL
    while url:
        with django_assert_num_queries(2):
            page = client.get(url, headers=auth_header(user_id=7)).json()
        seen += [n["id"] for n in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 30


def test_unread_count(client: Client, django_assert_num_queries: Any) -> None:
    feed_of("7", 4, read=1)
    feed_of("8", 3)
    with django_assert_num_queries(2):
        response = client.get(f"{URL}unread-count/", headers=auth_header(user_id=7))
    assert response.json() == {"count": 3}


def test_mark_one_read(client: Client, django_assert_num_queries: Any) -> None:
    notification, other = feed_of("7", 2)
    with django_assert_num_queries(2):
        response = client.post(f"{URL}{notification.pk}/read/", headers=auth_header(user_id=7))
    assert response.status_code == 204
    notification.refresh_from_db()
    other.refresh_from_db()
    assert notification.read
    assert not other.read
    first_read_at = notification.read_at
    # Again is fine and keeps the first time it was read.
    assert (
        client.post(f"{URL}{notification.pk}/read/", headers=auth_header(user_id=7)).status_code
        == 204
    )
    notification.refresh_from_db()
    assert notification.read_at == first_read_at


def test_someone_elses_notification_is_not_found(client: Client) -> None:
    (theirs,) = feed_of("8", 1)
    response = client.post(f"{URL}{theirs.pk}/read/", headers=auth_header(user_id=7))
    assert response.status_code == 404
    assert set(response.json()) == {"message", "extra"}
    theirs.refresh_from_db()
    assert not theirs.read


def test_mark_all_read(client: Client, django_assert_num_queries: Any) -> None:
    feed_of("7", 3)
    feed_of("8", 2)
    with django_assert_num_queries(2):
        response = client.post(f"{URL}read-all/", headers=auth_header(user_id=7))
    assert response.status_code == 204
    assert not Notification.objects.filter(recipient_id="7", read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient_id="8", read_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("get", f"{URL}unread-count/"),
        ("post", f"{URL}1/read/"),
        ("post", f"{URL}read-all/"),
    ],
)
def test_every_feed_endpoint_needs_a_token(client: Client, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert set(response.json()) == {"message", "extra"}


@pytest.mark.parametrize("role", ["client", "technician", "admin"])
def test_every_role_has_a_feed(client: Client, role: str) -> None:
    feed_of("7", 1)
    response = client.get(URL, headers=auth_header(user_id=7, role=role))
    assert len(response.json()["results"]) == 1


def test_string_ids_work_too(client: Client) -> None:
    feed_of("u-7", 2)
    response = client.get(f"{URL}unread-count/", headers=auth_header(user_id="u-7"))
    assert response.json() == {"count": 2}
