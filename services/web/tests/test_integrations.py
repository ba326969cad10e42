"""Admin pages for integrations (issue 20): API keys (accounts) and webhooks with their
delivery log (notifier); and an API key's caller (``apikey:<id>``) named as an
integration wherever the UI names a person."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.fakes import FakeApis, error, page, serve_ticket, ticket_json

pytestmark = pytest.mark.django_db

KEY = "sdk_0123456789ab_" + "s" * 43
SECRET = "whsec_" + "w" * 43
EVIL = '"><script>alert(1)</script>'


def api_key_json(**overrides: Any) -> dict[str, Any]:
    """An API key as ``GET /api/accounts/api-keys/`` lists it (never with ``key``)."""
    data = {
        "id": 7,
        "name": "Sincronización de inventario",
        "role": "technician",
        "read_only": True,
        "prefix": "0123456789ab",
        "created_at": "2026-03-01T09:00:00Z",
        "created_by": "1",
        "expires_at": "2099-01-01T00:00:00Z",
        "last_used_at": "2026-03-02T10:30:00Z",
    }
    return data | overrides


def webhook_json(**overrides: Any) -> dict[str, Any]:
    """An endpoint as ``GET /api/notifications/webhooks/<id>/`` answers it."""
    data = {
        "id": 4,
        "url": "https://hooks.example.com/servidesk",
        "events": ["ticket.created", "ticket.status_changed"],
        "active": True,
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
        "failing_since": None,
        "disabled_at": None,
        "disabled_reason": "",
    }
    return data | overrides


def delivery_json(**overrides: Any) -> dict[str, Any]:
    """A row of an endpoint's delivery log."""
    data = {
        "id": 31,
        "delivery_id": "5f0c6c1e-8d0a-4e33-9a51-2b7c3f0e9d11",
        "event_id": "8a3e4b6c-0000-4000-8000-000000000001",
        "event_type": "ticket.status_changed",
        "aggregate_id": "41",
        "sequence": 3,
        "status": "queued",
        "attempts": 2,
        "last_status_code": 503,
        "last_duration_ms": 187,
        "last_error": "HTTP 503",
        "next_retry_at": "2026-03-02T10:31:00Z",
        "redelivery_of": None,
        "created_at": "2026-03-02T10:30:00Z",
        "updated_at": "2026-03-02T10:30:20Z",
        "delivered_at": None,
    }
    return data | overrides


def serve_keys(apis: FakeApis) -> None:
    apis.on("accounts", "GET", "api-keys/", body=page([api_key_json()]))


def serve_webhooks(apis: FakeApis) -> None:
    apis.on("notifier", "GET", "webhooks/", body=page([webhook_json()]))
    apis.on("notifier", "GET", "webhooks/4/", body=webhook_json())
    apis.on("notifier", "GET", "webhooks/4/deliveries/", body=page([delivery_json()]))


# --- Who may use them -------------------------------------------------------------------

PAGES = ["/admin/api-keys/", "/admin/webhooks/", "/admin/webhooks/4/"]
ACTIONS = [
    "/admin/api-keys/",
    "/admin/api-keys/7/revoke/",
    "/admin/webhooks/",
    "/admin/webhooks/4/",
    "/admin/webhooks/4/active/",
    "/admin/webhooks/4/rotate-secret/",
    "/admin/webhooks/4/delete/",
    "/admin/webhooks/4/deliveries/31/redeliver/",
]


@pytest.mark.parametrize("who", ["technician", "client_user"])
def test_only_admins_reach_the_integration_pages(
    who: str, request: pytest.FixtureRequest, apis: FakeApis
) -> None:
    browser: Client = request.getfixturevalue(who)
    serve_keys(apis)
    serve_webhooks(apis)
    for path in PAGES:
        response = browser.get(path, HTTP_ACCEPT_LANGUAGE="es")
        assert response.status_code == 403, path
        assert "Esta página no está disponible para tu cuenta." in response.content.decode()
    for path in ACTIONS:
        assert browser.post(path, {"name": "x", "role": "admin"}).status_code == 403, path
    assert [
        c for c in apis.calls if c.service in ("accounts", "notifier") and c.path != "unread-count/"
    ] == []


def test_signed_out_browsers_go_to_the_sign_in_page(client: Client, apis: FakeApis) -> None:
    response = client.get("/admin/webhooks/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


# --- API keys ---------------------------------------------------------------------------


def test_admins_see_the_keys_with_their_role_expiry_and_last_use(
    admin: Client, apis: FakeApis
) -> None:
    serve_keys(apis)
    response = admin.get("/admin/api-keys/", HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Sincronización de inventario</strong>" in html
    assert "<code>sdk_0123456789ab_…</code>" in html
    assert (
        'Técnico <span class="badge badge-muted" data-testid="read-only">solo lectura</span>'
        in html
    )
    assert 'datetime="2099-01-01T00:00:00+00:00"' in html  # the expiry
    assert 'datetime="2026-03-02T10:30:00+00:00"' in html  # the last use
    assert 'action="/admin/api-keys/7/revoke/"' in html
    assert "data-confirm=" in html
    # The admin's menu leads here; the page's tabs lead to the webhooks too.
    assert 'href="/admin/api-keys/" aria-current="page">Integraciones</a>' in html
    assert 'href="/admin/webhooks/">Webhooks</a>' in html


def test_a_key_never_used_and_one_expired_say_so(admin: Client, apis: FakeApis) -> None:
    keys = [
        api_key_json(id=8, last_used_at=None, expires_at=None),
        api_key_json(id=9, expires_at="2020-01-01T00:00:00Z"),
    ]
    apis.on("accounts", "GET", "api-keys/", body=page(keys))
    html = admin.get("/admin/api-keys/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Sin usar todavía" in html
    assert ">Nunca</td>" in html
    assert '<span class="badge badge-alert">caducada</span>' in html


def test_the_key_list_pages_with_the_apis_cursor(admin: Client, apis: FakeApis) -> None:
    apis.on(
        "accounts",
        "GET",
        "api-keys/",
        body=page([api_key_json()], "http://accounts.internal/api/accounts/api-keys/?cursor=abc"),
    )
    html = admin.get("/admin/api-keys/?cursor=xyz").content.decode()
    assert apis.called("accounts", "GET", "api-keys/")[0].params == {"cursor": ["xyz"]}
    assert 'href="?cursor=abc"' in html


def test_a_new_key_is_shown_once_and_kept_nowhere(admin: Client, apis: FakeApis) -> None:
    serve_keys(apis)
    created = api_key_json(id=12, name="CRM", role="admin", read_only=False, key=KEY)
    apis.on("accounts", "POST", "api-keys/", 201, created)
    response = admin.post(
        "/admin/api-keys/",
        {"name": "CRM", "role": "admin", "expires_at": "2099-06-30T18:00"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{KEY}"' in html
    assert html.count(KEY) == 1
    assert "Cópiala ahora: no se volverá a mostrar." in html
    assert "no-store" in response["Cache-Control"]
    assert apis.called("accounts", "POST", "api-keys/")[0].body == {
        "name": "CRM",
        "role": "admin",
        "read_only": False,
        "expires_at": "2099-06-30T18:00:00+00:00",
    }
    # Not in the session, nor in a message for the next page, nor on any later page.
    assert KEY not in str(dict(admin.session.items()))
    assert KEY not in admin.get("/admin/api-keys/").content.decode()


def test_a_read_only_key_that_never_expires(admin: Client, apis: FakeApis) -> None:
    serve_keys(apis)
    apis.on("accounts", "POST", "api-keys/", 201, api_key_json(key=KEY, expires_at=None))
    admin.post("/admin/api-keys/", {"name": "Informes", "role": "technician", "read_only": "on"})
    assert apis.called("accounts", "POST", "api-keys/")[0].body == {
        "name": "Informes",
        "role": "technician",
        "read_only": True,
        "expires_at": None,
    }


def test_a_key_is_for_staff_roles_and_expires_in_the_future(admin: Client, apis: FakeApis) -> None:
    serve_keys(apis)
    response = admin.post(
        "/admin/api-keys/",
        {"name": "X", "role": "client", "expires_at": "2020-01-01T00:00"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_role-errors"' in html
    assert "Elige un momento futuro." in html
    assert apis.called("accounts", "POST", "api-keys/") == []


def test_the_apis_refusal_of_a_key_is_shown_next_to_its_field(
    admin: Client, apis: FakeApis
) -> None:
    serve_keys(apis)
    refusal = error("No válido.", {"name": ["Ya hay una clave con ese nombre."]})
    apis.on("accounts", "POST", "api-keys/", 400, refusal)
    response = admin.post("/admin/api-keys/", {"name": "CRM", "role": "admin"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_name-errors"' in html
    assert "Ya hay una clave con ese nombre." in html
    assert "<strong>Sincronización de inventario</strong>" in html  # the list stays


def test_accounts_down_while_creating_a_key_is_said_on_the_form(
    admin: Client, apis: FakeApis
) -> None:
    apis.down.add("accounts")
    response = admin.post(
        "/admin/api-keys/", {"name": "CRM", "role": "admin"}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    assert "no está disponible en este momento" in response.content.decode()


def test_an_admin_revokes_a_key(admin: Client, apis: FakeApis) -> None:
    serve_keys(apis)
    apis.on("accounts", "DELETE", "api-keys/7/", 204)
    response = admin.post("/admin/api-keys/7/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/api-keys/"
    assert len(apis.called("accounts", "DELETE", "api-keys/7/")) == 1
    html = admin.get("/admin/api-keys/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Se ha revocado la clave de API." in html


def test_revoking_a_key_already_gone_says_so(admin: Client, apis: FakeApis) -> None:
    serve_keys(apis)
    apis.on("accounts", "DELETE", "api-keys/7/", 404, error("No existe esa clave."))
    response = admin.post("/admin/api-keys/7/revoke/")
    assert response.status_code == 302
    html = admin.get("/admin/api-keys/").content.decode()
    assert "No existe esa clave." in html
    assert "notice-error" in html


def test_revoking_needs_a_post(admin: Client, apis: FakeApis) -> None:
    assert admin.get("/admin/api-keys/7/revoke/").status_code == 405
    assert apis.called("accounts", "DELETE", "api-keys/7/") == []


# --- Webhooks ---------------------------------------------------------------------------


def test_admins_see_the_webhooks(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    off = webhook_json(
        id=5,
        url="https://down.example.com/",
        events=["*"],
        active=False,
        disabled_at="2026-03-03T09:00:00Z",
    )
    apis.on("notifier", "GET", "webhooks/", body=page([webhook_json(), off]))
    response = admin.get("/admin/webhooks/", HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        '<a href="/admin/webhooks/4/"><code>https://hooks.example.com/servidesk</code></a>' in html
    )
    assert "Se abre un ticket, Un ticket cambia de estado" in html
    assert "Todos los eventos" in html
    assert "Desactivado tras fallar" in html
    assert 'href="/admin/webhooks/" aria-current="page">Webhooks</a>' in html
    assert 'href="/admin/api-keys/" aria-current="page">Integraciones</a>' in html
    # The form offers every event type of the registry but the one-time code.
    assert 'type="checkbox" name="events" value="*"' in html
    assert 'value="ticket.sla_breached"' in html
    assert 'value="verification.phone_code"' not in html


def test_a_new_webhook_shows_its_secret_once(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "POST", "webhooks/", 201, webhook_json(id=9, secret=SECRET))
    response = admin.post(
        "/admin/webhooks/",
        {
            "url": "https://hooks.example.com/servidesk",
            "events": ["ticket.created", "ticket.status_changed"],
            "active": "on",
        },
        HTTP_ACCEPT_LANGUAGE="es",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count(SECRET) == 1
    assert "Copia el secreto ahora: no se volverá a mostrar." in html
    assert 'href="/admin/webhooks/9/"' in html
    assert "no-store" in response["Cache-Control"]
    assert apis.called("notifier", "POST", "webhooks/")[0].body == {
        "url": "https://hooks.example.com/servidesk",
        "events": ["ticket.created", "ticket.status_changed"],
        "active": True,
    }
    assert SECRET not in str(dict(admin.session.items()))
    assert SECRET not in admin.get("/admin/webhooks/9/").content.decode()


def test_every_event_is_sent_as_a_star(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "POST", "webhooks/", 201, webhook_json(secret=SECRET, events=["*"]))
    admin.post(
        "/admin/webhooks/",
        {"url": "https://hooks.example.com/", "events": ["*", "ticket.created"]},
    )
    assert apis.called("notifier", "POST", "webhooks/")[0].body == {
        "url": "https://hooks.example.com/",
        "events": ["*"],
        "active": False,
    }


def test_a_webhook_needs_an_event(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    response = admin.post(
        "/admin/webhooks/", {"url": "https://hooks.example.com/"}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    assert "Elige al menos un evento, o todos." in response.content.decode()
    assert apis.called("notifier", "POST", "webhooks/") == []


def test_the_apis_refusal_of_a_webhook_url_is_shown_next_to_it(
    admin: Client, apis: FakeApis
) -> None:
    serve_webhooks(apis)
    refusal = error("No válido.", {"url": ["Esa dirección es interna."]})
    apis.on("notifier", "POST", "webhooks/", 400, refusal)
    response = admin.post(
        "/admin/webhooks/", {"url": "http://10.0.0.1/", "events": ["ticket.created"]}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_url-errors"' in html
    assert "Esa dirección es interna." in html
    assert 'value="http://10.0.0.1/"' in html  # what was typed stays


def test_the_webhook_page_shows_its_delivery_log(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    done = delivery_json(
        id=30,
        delivery_id="0b7d0c9e-1111-4222-8333-444455556666",
        event_type="ticket.created",
        status="delivered",
        attempts=1,
        last_status_code=200,
        last_duration_ms=42,
        last_error="",
        next_retry_at=None,
    )
    rows = [delivery_json(), done, delivery_json(id=29, status="failed", next_retry_at=None)]
    apis.on(
        "notifier",
        "GET",
        "webhooks/4/deliveries/",
        body=page(
            rows, "http://notifier.internal/api/notifications/webhooks/4/deliveries/?cursor=n2"
        ),
    )
    response = admin.get("/admin/webhooks/4/?cursor=n1", HTTP_ACCEPT_LANGUAGE="es")
    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert apis.called("notifier", "GET", "webhooks/4/deliveries/")[0].params == {"cursor": ["n1"]}
    assert '<tr data-delivery-id="31">' in html
    assert "<code>ticket.status_changed</code>" in html
    assert "<code>5f0c6c1e-8d0a-4e33-9a51-2b7c3f0e9d11</code>" in html
    assert '<td data-label="Intentos">2</td>' in html
    assert "HTTP 503" in html
    assert "187 ms" in html
    assert 'datetime="2026-03-02T10:31:00+00:00"' in html  # the next retry
    assert 'data-testid="delivery-state">En cola</span>' in html
    assert 'data-testid="delivery-state">Entregada</span>' in html
    assert 'data-testid="delivery-state">Fallida</span>' in html
    assert "42 ms" in html
    assert 'action="/admin/webhooks/4/deliveries/31/redeliver/"' in html
    assert 'href="?cursor=n2"' in html
    # Its settings, ready to change.
    assert 'value="https://hooks.example.com/servidesk"' in html
    assert re.search(r'name="events" value="ticket.created" id="id_events_\d+" checked', html)
    assert re.search(r'name="events" value="ticket.closed" id="id_events_\d+">', html)


def test_an_admin_redelivers_a_delivery(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on(
        "notifier",
        "POST",
        "webhooks/4/deliveries/31/redeliver/",
        202,
        delivery_json(id=40, redelivery_of=31, attempts=0),
    )
    response = admin.post("/admin/webhooks/4/deliveries/31/redeliver/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/webhooks/4/"
    assert len(apis.called("notifier", "POST", "webhooks/4/deliveries/31/redeliver/")) == 1
    html = admin.get("/admin/webhooks/4/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Reenvío programado." in html


def test_redelivering_an_unknown_delivery_says_so(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "POST", "webhooks/4/deliveries/99/redeliver/", 404, error("No existe."))
    response = admin.post("/admin/webhooks/4/deliveries/99/redeliver/")
    assert response.status_code == 302
    assert "No existe." in admin.get("/admin/webhooks/4/").content.decode()


def test_an_admin_changes_a_webhook(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "PATCH", "webhooks/4/", body=webhook_json(events=["ticket.closed"]))
    response = admin.post(
        "/admin/webhooks/4/",
        {"url": "https://hooks.example.com/v2", "events": ["ticket.closed"], "active": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/webhooks/4/"
    assert apis.called("notifier", "PATCH", "webhooks/4/")[0].body == {
        "url": "https://hooks.example.com/v2",
        "events": ["ticket.closed"],
        "active": True,
    }


def test_the_apis_refusal_of_a_change_stays_on_the_form(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    refusal = error("No válido.", {"events": ["Tipo de evento desconocido: x."]})
    apis.on("notifier", "PATCH", "webhooks/4/", 400, refusal)
    response = admin.post(
        "/admin/webhooks/4/",
        {"url": "https://hooks.example.com/", "events": ["ticket.closed"]},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Tipo de evento desconocido: x." in html
    assert 'data-testid="deliveries"' in html  # the log is still there


def test_a_conflict_is_shown_at_the_top_of_the_form(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "PATCH", "webhooks/4/", 409, error("Otro cambio llegó antes."))
    response = admin.post(
        "/admin/webhooks/4/",
        {"url": "https://hooks.example.com/", "events": ["ticket.closed"]},
    )
    assert response.status_code == 400
    assert "Otro cambio llegó antes." in response.content.decode()


def test_an_admin_disables_and_enables_a_webhook(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "PATCH", "webhooks/4/", body=webhook_json(active=False))
    response = admin.post("/admin/webhooks/4/active/", {"active": "false"})
    assert response["Location"] == "/admin/webhooks/4/"
    admin.post("/admin/webhooks/4/active/", {"active": "true"})
    bodies = [c.body for c in apis.called("notifier", "PATCH", "webhooks/4/")]
    assert bodies == [{"active": False}, {"active": True}]
    html = admin.get("/admin/webhooks/4/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Se ha activado el webhook." in html


def test_a_disabled_webhook_offers_to_enable_it(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on(
        "notifier",
        "GET",
        "webhooks/4/",
        body=webhook_json(
            active=False,
            failing_since="2026-03-01T09:00:00Z",
            disabled_at="2026-03-02T09:00:00Z",
            disabled_reason="24 h de fallos",
        ),
    )
    html = admin.get("/admin/webhooks/4/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<input type="hidden" name="active" value="true">' in html
    assert "Desactivado tras fallar" in html
    assert ": 24 h de fallos" in html


def test_rotating_the_secret_shows_the_new_one_once(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "POST", "webhooks/4/rotate-secret/", body=webhook_json(secret=SECRET))
    response = admin.post("/admin/webhooks/4/rotate-secret/", HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count(SECRET) == 1
    assert "El secreto anterior ya no firma nada" in html
    assert "no-store" in response["Cache-Control"]
    assert SECRET not in str(dict(admin.session.items()))


def test_rotating_the_secret_of_a_webhook_gone_says_so(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "POST", "webhooks/4/rotate-secret/", 404, error("No existe ese webhook."))
    response = admin.post("/admin/webhooks/4/rotate-secret/")
    assert response.status_code == 302
    assert "No existe ese webhook." in admin.get("/admin/webhooks/4/").content.decode()


def test_an_admin_deletes_a_webhook(admin: Client, apis: FakeApis) -> None:
    serve_webhooks(apis)
    apis.on("notifier", "DELETE", "webhooks/4/", 204)
    response = admin.post("/admin/webhooks/4/delete/")
    assert response["Location"] == "/admin/webhooks/"
    assert len(apis.called("notifier", "DELETE", "webhooks/4/")) == 1
    html = admin.get("/admin/webhooks/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Se ha eliminado el webhook." in html


def test_an_unknown_webhook_is_a_404_page(admin: Client, apis: FakeApis) -> None:
    response = admin.get("/admin/webhooks/77/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 404
    assert "Esta página no existe" in response.content.decode()


def test_notifier_down_leaves_the_webhook_list_empty_and_says_so(
    admin: Client, apis: FakeApis
) -> None:
    apis.down.add("notifier")
    response = admin.get("/admin/webhooks/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 503
    assert 'data-testid="unavailable"' in response.content.decode()


def test_what_an_api_answers_is_escaped(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "api-keys/", body=page([api_key_json(name=EVIL)]))
    apis.on("notifier", "GET", "webhooks/", body=page([webhook_json(url=EVIL)]))
    for path in ("/admin/api-keys/", "/admin/webhooks/"):
        html = admin.get(path).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;" in html


# --- An API key's caller, wherever a person is named ------------------------------------


def test_an_integrations_comment_and_changes_name_it(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, assignee_id=3, assignee_name="Teo Técnico")
    comment = {
        "id": 80,
        "author_id": "apikey:7",
        "author_name": None,
        "body": "Sincronizado desde el inventario.",
        "internal": True,
        "created_at": "2026-03-02T10:00:00Z",
    }
    apis.on("tickets", "GET", "41/comments/", body=page([comment]))
    history = [
        {"actor_id": "apikey:7", "field": "status", "from": "pending", "to": "in_progress",
         "at": "2026-03-02T10:01:00Z"},
        {"actor_id": "apikey:12", "field": "assignee_id", "from": None, "to": "apikey:12",
         "at": "2026-03-02T10:02:00Z"},
    ]  # fmt: skip
    apis.on("tickets", "GET", "41/history/", body=page(history))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<strong>Integración (clave 7)</strong>" in html
    assert 'data-testid="history-actor">Integración (clave 7)</span>' in html
    assert 'data-testid="history-actor">Integración (clave 12)</span>' in html
    assert "— → Integración (clave 12)" in html
    assert "apikey:" not in html.replace('"apikey:', "")  # never shown as a raw id
    # No one was looked up at accounts for it.
    assert [c for c in apis.calls if c.service == "accounts"] == []


def test_an_integration_is_named_in_english_too(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    comment = {
        "id": 80,
        "author_id": "apikey:7",
        "body": "Hola.",
        "internal": False,
        "created_at": "2026-03-02T10:00:00Z",
    }
    apis.on("tickets", "GET", "41/comments/", body=page([comment]))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<strong>Integration (key 7)</strong>" in html


def test_the_queue_names_an_integration_as_assignee_or_client(
    technician: Client, apis: FakeApis
) -> None:
    row = ticket_json(
        id=1, number="SD-1", client_id="apikey:4", client_name=None, assignee_id="apikey:4"
    )
    apis.on("tickets", "GET", "", body=page([row]))
    apis.on("tickets", "GET", "status-counts/", body={
        "pending": 1, "in_progress": 0, "resolved": 0, "total": 1, "capped": []
    })  # fmt: skip
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert html.count(">Integración (clave 4)</td>") == 2
