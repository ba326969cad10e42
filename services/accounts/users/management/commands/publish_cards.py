"""``manage.py publish_cards``: every user's contact card, published again.

For an upgrade that adds fields to the card (``email_verified`` and ``phone_verified``
did): until a user's card is published again, the other services' directories hold the
old one, and notifier, for one, mails and texts no one whose card says nothing of a
proof. Each user gets one ``user.updated`` (``user.deactivated`` when inactive) through
the outbox, a batch per transaction; consumers apply a card once, so running it again
is harmless.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from users import events
from users.models import User


class Command(BaseCommand):
    help = "Publish every user's contact card again (after an upgrade that changed the card)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="users per transaction")

    def handle(self, *args: Any, batch: int, **options: Any) -> None:
        published = 0
        last_pk = 0
        while True:
            with transaction.atomic():
                users = list(User.objects.filter(pk__gt=last_pk).order_by("pk")[:batch])
                for user in users:
                    if user.is_active:
                        events.user_updated(user)
                    else:
                        events.user_deactivated(user)
            if not users:
                break
            published += len(users)
            last_pk = users[-1].pk
        self.stdout.write(f"published {published} contact cards")
