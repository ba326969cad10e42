"""Monitoring pages for admins (issue 22): email and SMS deliveries with retry, each
service's dead letters (process again, discard) and the audit trail; the webhook page's
delivery filter."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.fakes import FakeApis, error, page
from tests.test_integrations import serve_webhooks

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'
EVENT_ID = "8a3e4b6c-0000-4000-8000-000000000001"


def delivery_json(**overrides: Any) -> dict[str, Any]:
    """A row of ``GET /api/notifications/deliveries/``."""
    data = {
        "id": 51,
        "event_id": EVENT_ID,
        "event_type": "ticket.status_changed",
        "channel": "sms",
        "recipient_id": "9",
        "kind": "status_changed",
        "ticket_id": "41",
        "address": "+34600111222",
        "status": "failed",
        "attempts": 6,
        "next_attempt_at": "2026-03-02T10:31:00Z",
        "last_error": "gave up after 6 attempts: HTTP 503",
        "provider_id": "",
        "provider_status": "",
        "created_at": "2026-03-02T10:30:00Z",
        "updated_at": "2026-03-02T10:40:00Z",
        "sent_at": None,
    }
    return data | overrides


def dead_letter_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "key": EVENT_ID,
        "message_id": EVENT_ID,
        "event_type": "ticket.created",
        "queue": "notifier.events",
        "reason": "handler_failed",
        "error": "Traceback (most recent call last):\n  ...\nKeyError: 'ticket'",
        "attempts": 5,
        "failed_at": "2026-03-02T10:30:00+00:00",
        "body": '{"id": "..."}',
    }
    return data | overrides


def audit_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": 12,
        "at": "2026-03-02T10:30:00Z",
        "action": "role_changed",
        "actor_id": "1",
        "actor_username": "admin",
        "user_id": "9",
        "username": "carla",
        "api_key_id": None,
        "api_key_name": None,
        "old_value": "client",
        "new_value": "technician",
    }
    return data | overrides


def dead_letter_page(results: list[Any], count: int | None = None) -> dict[str, Any]:
    return {**page(results), "count": len(results) if count is None else count}


PAGES = ["/admin/deliveries/", "/admin/dead-letters/", "/admin/audit/"]
ACTIONS = [
    "/admin/deliveries/51/retry/",
    f"/admin/dead-letters/notifier/{EVENT_ID}/replay/",
    f"/admin/dead-letters/notifier/{EVENT_ID}/discard/",
]


def serve_all(apis: FakeApis) -> None:
    apis.on("notifier", "GET", "deliveries/", body=page([delivery_json()]))
    for service in ("tickets", "notifier", "reports", "accounts"):
        apis.on(service, "GET", "dead-letters/", body=dead_letter_page([dead_letter_json()]))
    apis.on("accounts", "GET", "audit/", body=page([audit_json()]))


# --- Who may use them -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["technician", "client_user"])
def test_only_admins_reach_the_monitoring_pages(
    who: str, request: pytest.FixtureRequest, apis: FakeApis
) -> None:
    browser: Client = request.getfixturevalue(who)
    serve_all(apis)
    for path in PAGES:
        response = browser.get(path, HTTP_ACCEPT_LANGUAGE="es")
        assert response.status_code == 403, path
    for path in ACTIONS:
        assert browser.post(path).status_code == 403, path
    assert [c for c in apis.calls if c.path != "unread-count/"] == []


def test_signed_out_browsers_go_to_the_sign_in_page(client: Client, apis: FakeApis) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_the_admin_menu_links_to_monitoring(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    html = admin.get("/admin/deliveries/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<a href="/admin/deliveries/" aria-current="page">Supervisión</a>' in html
    assert '<a href="/admin/dead-letters/">Mensajes no entregados</a>' in html
    assert '<a href="/admin/audit/">Auditoría</a>' in html


# --- Deliveries -------------------------------------------------------------------------


def test_deliveries_are_listed_with_a_retry_for_the_failed(admin: Client, apis: FakeApis) -> None:
    sent = delivery_json(id=50, status="sent", channel="email", address="c@example.com")
    apis.on(
        "notifier",
        "GET",
        "deliveries/",
        body=page(
            [delivery_json(), sent],
            "http://notifier.internal/api/notifications/deliveries/?cursor=n2",
        ),
    )
    response = admin.get("/admin/deliveries/", HTTP_ACCEPT_LANGUAGE="es")
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert '<tr data-delivery-id="51">' in html
    assert "+34600111222" in html
    assert "gave up after 6 attempts: HTTP 503" in html
    assert 'data-testid="delivery-state">Fallida</span>' in html
    assert 'data-testid="delivery-state">Enviada</span>' in html
    assert html.count("/retry/") == 1
    assert 'action="/admin/deliveries/51/retry/"' in html
    assert ">Reintentar<" in html
    assert 'href="?cursor=n2"' in html


def test_the_filters_go_to_the_api(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    response = admin.get(
        "/admin/deliveries/", {"status": "failed", "channel": "sms", "since": "2026-03-01"}
    )
    assert response.status_code == 200
    [call] = apis.called("notifier", "GET", "deliveries/")
    assert call.params["status"] == ["failed"]
    assert call.params["channel"] == ["sms"]
    assert call.params["since"][0].startswith("2026-03-01T00:00:00")


def test_a_bad_filter_is_shown_not_sent(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    response = admin.get("/admin/deliveries/", {"status": "lost", "since": "ayer"})
    assert response.status_code == 400
    [call] = apis.called("notifier", "GET", "deliveries/")
    assert "status" not in call.params
    assert "since" not in call.params


def test_an_admin_retries_a_failed_delivery(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on("notifier", "POST", "deliveries/51/retry/", 202, delivery_json(status="queued"))
    response = admin.post(
        "/admin/deliveries/51/retry/",
        HTTP_REFERER="http://testserver/admin/deliveries/?status=failed",
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/deliveries/?status=failed"
    assert len(apis.called("notifier", "POST", "deliveries/51/retry/")) == 1
    html = admin.get("/admin/deliveries/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "El envío vuelve a la cola para enviarse de nuevo." in html


def test_a_refused_retry_says_why(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on(
        "notifier",
        "POST",
        "deliveries/51/retry/",
        409,
        error("Solo se puede reintentar un envío fallido."),
    )
    admin.post("/admin/deliveries/51/retry/")
    html = admin.get("/admin/deliveries/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Solo se puede reintentar un envío fallido." in html


def test_notifier_down_is_a_503_page(admin: Client, apis: FakeApis) -> None:
    apis.on("notifier", "GET", "deliveries/", 503, error("down"))
    response = admin.get("/admin/deliveries/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 503
    assert "Notificaciones" in response.content.decode()


# --- Dead letters -----------------------------------------------------------------------


def test_dead_letters_per_service_with_their_error(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on(
        "reports",
        "GET",
        "dead-letters/",
        body=dead_letter_page([dead_letter_json(event_type="user.updated", error=EVIL)], count=7),
    )
    response = admin.get("/admin/dead-letters/", {"service": "reports"}, HTTP_ACCEPT_LANGUAGE="es")
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert apis.called("reports", "GET", "dead-letters/")
    assert not apis.called("tickets", "GET", "dead-letters/")
    assert '<a href="?service=reports" aria-current="page">Informes</a>' in html
    assert 'data-testid="dead-letter-count">7</span>' in html
    assert f'<tr data-dead-letter="{EVENT_ID}">' in html
    assert "<code>user.updated</code>" in html
    assert "No se pudo aplicar" in html
    assert EVIL not in html  # escaped
    assert f'action="/admin/dead-letters/reports/{EVENT_ID}/replay/"' in html
    assert f'action="/admin/dead-letters/reports/{EVENT_ID}/discard/"' in html
    assert "data-confirm=" in html
    assert ">Reprocesar<" in html
    assert ">Descartar<" in html


def test_the_first_service_is_shown_by_default_and_an_unknown_one_too(
    admin: Client, apis: FakeApis
) -> None:
    serve_all(apis)
    assert admin.get("/admin/dead-letters/").status_code == 200
    assert admin.get("/admin/dead-letters/", {"service": "nope"}).status_code == 200
    assert len(apis.called("tickets", "GET", "dead-letters/")) == 2


def test_the_traceback_shows_its_last_line(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    html = admin.get("/admin/dead-letters/", {"service": "notifier"}).content.decode()
    assert '<span class="muted">KeyError: &#x27;ticket&#x27;</span>' in html


def test_replay_and_discard(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on("notifier", "POST", f"dead-letters/{EVENT_ID}/replay/", 202, {"replayed": 1})
    apis.on("notifier", "DELETE", f"dead-letters/{EVENT_ID}/", 204)
    back = "http://testserver/admin/dead-letters/?service=notifier"

    replayed = admin.post(f"/admin/dead-letters/notifier/{EVENT_ID}/replay/", HTTP_REFERER=back)
    assert replayed.status_code == 302
    assert replayed["Location"] == "/admin/dead-letters/?service=notifier"
    html = admin.get("/admin/dead-letters/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "El mensaje vuelve a procesarse." in html

    discarded = admin.post(f"/admin/dead-letters/notifier/{EVENT_ID}/discard/", HTTP_REFERER=back)
    assert discarded.status_code == 302
    assert len(apis.called("notifier", "DELETE", f"dead-letters/{EVENT_ID}/")) == 1
    html = admin.get("/admin/dead-letters/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "El mensaje se ha descartado." in html


def test_odd_keys_and_ids_never_break_the_page(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on(
        "tickets",
        "GET",
        "dead-letters/",
        body=dead_letter_page([dead_letter_json(key="a/b?c", message_id="a/b?c")]),
    )
    apis.on("notifier", "GET", "deliveries/", body=page([delivery_json(ticket_id="x/y")]))
    html = admin.get("/admin/dead-letters/").content.decode()
    # Encoded twice: the path is decoded once before routing, the view decodes the key.
    action = "/admin/dead-letters/tickets/a%252Fb%253Fc/replay/"
    assert f'action="{action}"' in html
    apis.on("tickets", "POST", "dead-letters/a%2Fb%3Fc/replay/", 202)
    assert admin.post(action).status_code == 302
    # The key reaches the API as one path segment (the fake records it decoded).
    assert [c.path for c in apis.calls if c.method == "POST"] == ["dead-letters/a/b?c/replay/"]
    assert admin.get("/admin/deliveries/").status_code == 200


def test_a_key_without_an_event_id_is_one_path_segment(admin: Client, apis: FakeApis) -> None:
    key = "sha256:0123456789abcdef0123456789abcdef"
    apis.on("tickets", "DELETE", f"dead-letters/{key.replace(':', '%3A')}/", 204)
    apis.on("tickets", "DELETE", f"dead-letters/{key}/", 204)
    assert admin.post(f"/admin/dead-letters/tickets/{key}/discard/").status_code == 302
    assert [c.method for c in apis.calls if c.service == "tickets"] == ["DELETE"]


def test_a_dead_letter_gone_says_so(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    apis.on(
        "notifier",
        "DELETE",
        f"dead-letters/{EVENT_ID}/",
        404,
        error("Ningún mensaje no entregado tiene este id."),
    )
    admin.post(f"/admin/dead-letters/notifier/{EVENT_ID}/discard/")
    html = admin.get("/admin/dead-letters/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Ningún mensaje no entregado tiene este id." in html


def test_an_unknown_service_is_a_404_for_actions(admin: Client, apis: FakeApis) -> None:
    assert admin.post(f"/admin/dead-letters/web/{EVENT_ID}/replay/").status_code == 404
    assert admin.post(f"/admin/dead-letters/nope/{EVENT_ID}/discard/").status_code == 404
    assert [c for c in apis.calls if c.path != "unread-count/"] == []


def test_a_broker_out_of_reach_is_a_503_page(admin: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "dead-letters/", 503, error("No se puede contactar"))
    response = admin.get("/admin/dead-letters/")
    assert response.status_code == 503


# --- Audit trail ------------------------------------------------------------------------


def test_the_audit_trail(admin: Client, apis: FakeApis) -> None:
    key = audit_json(
        id=11,
        action="api_key_revoked",
        user_id=None,
        username=None,
        api_key_id="3",
        api_key_name="CRM",
        old_value="",
        new_value="",
    )
    system = audit_json(
        id=10,
        action="api_key_exchanged",
        actor_id=None,
        actor_username=None,
        user_id=None,
        username=None,
        api_key_id="3",
        api_key_name="CRM",
        old_value="",
        new_value="issued",
    )
    apis.on("accounts", "GET", "audit/", body=page([audit_json(), key, system]))
    response = admin.get("/admin/audit/", HTTP_ACCEPT_LANGUAGE="es")
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert '<tr data-audit-id="12">' in html
    assert "Rol cambiado" in html
    assert '<a href="?user=9">carla</a>' in html
    assert '<span class="muted">client</span> → technician' in html
    assert "Clave de API revocada" in html
    assert "Clave de API CRM" in html
    assert "el sistema" in html


def test_the_audit_filters_go_to_the_api(admin: Client, apis: FakeApis) -> None:
    serve_all(apis)
    admin.get("/admin/audit/", {"action": "deactivated", "user": "9", "since": "2026-03-01"})
    [call] = apis.called("accounts", "GET", "audit/")
    assert call.params["action"] == ["deactivated"]
    assert call.params["user"] == ["9"]
    assert call.params["since"][0].startswith("2026-03-01T00:00:00")
    bad = admin.get("/admin/audit/", {"user": "carla"})
    assert bad.status_code == 400


# --- The webhook page's delivery filter --------------------------------------------------


def test_the_webhook_page_filters_its_deliveries_by_state(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    response = admin.get("/admin/webhooks/4/", {"status": "failed"}, HTTP_ACCEPT_LANGUAGE="es")
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    [call] = apis.called("notifier", "GET", "webhooks/4/deliveries/")
    assert call.params["status"] == ["failed"]
    assert '<option value="failed" selected>Fallida</option>' in html
    admin.get("/admin/webhooks/4/", {"status": "lost"})
    assert "status" not in apis.called("notifier", "GET", "webhooks/4/deliveries/")[1].params
