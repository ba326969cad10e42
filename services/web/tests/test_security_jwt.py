"""The JWT attack catalog against the browser UI: a bearer header is never a way in.

web has no API of its own (its OpenAPI schema has no operations); who is signed in lives
in the server-side session only. So a page that needs a user answers every forged token
of the shared catalog, and even a genuine admin token, exactly as it answers nobody:
a redirect to sign in, without a single call to the APIs on the caller's behalf.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from servidesk_testing.jwt_attacks import ATTACKS, Identity, bearer
from tests.fakes import FakeApis

ADMIN = Identity(user_id=1, role="admin", username="admin")
PAGES = ["/tickets/", "/profile/", "/notifications/", "/admin/users/", "/reports/"]


def genuine(who: Identity) -> str:
    return bearer(who.token())


@pytest.mark.django_db
@pytest.mark.parametrize("attack", [*ATTACKS, genuine], ids=lambda attack: attack.__name__)
def test_a_bearer_header_does_not_sign_anyone_in(
    client: Client, apis: FakeApis, attack: Callable[[Identity], str]
) -> None:
    authorization = attack(ADMIN)
    for page in PAGES:
        response = client.get(page, HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 302, (page, response.status_code)
        assert response["Location"].startswith("/login/"), (page, response["Location"])
    assert apis.calls == []
