from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import ClientFactory, TechnicianFactory

pytestmark = pytest.mark.django_db


def test_every_card_is_published_again_with_its_proofs() -> None:
    confirmed = ClientFactory(email_verified=True, phone="+34600111222", phone_verified=True)
    gone = TechnicianFactory(is_active=False)
    OutboxMessage.objects.all().delete()
    out = StringIO()

    call_command("publish_cards", "--batch", "1", stdout=out)

    published = {row.envelope["data"]["id"]: row for row in OutboxMessage.objects.all()}
    assert set(published) == {confirmed.pk, gone.pk}
    assert published[confirmed.pk].envelope["type"] == "user.updated"
    assert published[confirmed.pk].envelope["data"]["email_verified"] is True
    assert published[confirmed.pk].envelope["data"]["phone_verified"] is True
    assert published[gone.pk].envelope["type"] == "user.deactivated"
    assert "published 2 contact cards" in out.getvalue()
