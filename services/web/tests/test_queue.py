"""The staff's queue after issue 18: team and tag filters, tags on the rows, status tabs
with counts, saved views and bulk actions with their outcome per ticket."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests.fakes import PEOPLE, FakeApis, error, page, team_json, ticket_json, view_json

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'
COUNTS = {"pending": 7, "in_progress": 3, "resolved": 40, "total": 50, "capped": []}


def serve_queue(apis: FakeApis, tickets: list[dict[str, object]] | None = None) -> None:
    rows = [
        ticket_json(id=1, number="SD-1", tags=["vpn", "oficina"]),
        ticket_json(id=2, number="SD-2", tags=[]),
    ]
    apis.on("tickets", "GET", "", body=page(rows if tickets is None else tickets))
    apis.on("tickets", "GET", "categories/", body=[{"slug": "red", "name": "Red"}])
    apis.on("tickets", "GET", "teams/", body=[team_json(), team_json(id=4, name="Equipos")])
    apis.on("tickets", "GET", "status-counts/", body=COUNTS)
    apis.on("tickets", "GET", "views/", body=[view_json()])
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)


# --- Filters ----------------------------------------------------------------------------


def test_the_queue_filters_by_team_and_by_every_tag(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get(
        "/tickets/?team=mine&tags=VPN,%20oficina&tag=urgente", HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    params = apis.called("tickets", "GET", "")[0].params
    assert params["team_id"] == ["mine"]
    assert params["tag"] == ["vpn", "oficina", "urgente"]
    assert '<option value="mine" selected>Mis equipos</option>' in html
    assert '<option value="none">Sin equipo</option>' in html
    assert '<option value="4">Equipos</option>' in html
    assert 'value="VPN, oficina, urgente"' in html  # as typed, and the tag's link


def test_no_team_and_a_team_id_reach_the_api(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    technician.get("/tickets/?team=none")
    technician.get("/tickets/?team=3")
    technician.get("/tickets/?team=99")  # not a team: dropped, like any bad filter
    calls = apis.called("tickets", "GET", "")
    assert calls[0].params["team_id"] == ["none"]
    assert calls[1].params["team_id"] == ["3"]
    assert "team_id" not in calls[2].params


def test_staff_see_each_rows_tags_as_filter_links(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get("/tickets/").content.decode()
    assert '<a class="tag" href="/tickets/?tag=vpn">vpn</a>' in html
    assert '<a class="tag" href="/tickets/?tag=oficina">oficina</a>' in html


def test_clients_get_no_staff_tools(client_user: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = client_user.get("/tickets/").content.decode()
    assert 'data-testid="bulk-form"' not in html
    assert 'data-testid="saved-views"' not in html
    assert 'name="team"' not in html
    for path in ("status-counts/", "views/", "teams/", "assignees/"):
        assert apis.called("tickets", "GET", path) == []


# --- Status tabs with counts ------------------------------------------------------------


def test_the_status_tabs_count_with_the_current_filters(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get("/tickets/?status=pending&priority=urgent&team=3&ordering=-priority")
    text = html.content.decode()
    assert apis.called("tickets", "GET", "status-counts/")[0].params == {
        "priority": ["urgent"],
        "team_id": ["3"],
    }
    for code, count in (("all", 50), ("pending", 7), ("in_progress", 3), ("resolved", 40)):
        assert f'data-testid="count-{code}"><span class="visually-hidden">(</span>{count}<' in text


def test_a_capped_count_shows_as_at_least(technician: Client, apis: FakeApis) -> None:
    """Past 1,000 tickets per status, tickets stops counting: "1000+", not a number
    passed off as exact."""
    serve_queue(apis)
    big = {"pending": 1000, "in_progress": 3, "resolved": 1000, "total": 2003}
    apis.on("tickets", "GET", "status-counts/", body={**big, "capped": ["pending", "total"]})
    apis.on("tickets", "GET", "views/", body=[view_json(count=1000, count_capped=True)])
    text = technician.get("/tickets/").content.decode()
    # Spanish groups thousands with a no-break space.
    for code, shown in (
        ("all", "2\xa0003+"),
        ("pending", "1\xa0000+"),
        ("in_progress", "3"),
        ("resolved", "1\xa0000"),
    ):
        expected = f'data-testid="count-{code}"><span class="visually-hidden">(</span>{shown}<'
        assert expected in text
    assert '<span class="count">1\xa0000+</span>' in text


def test_the_queue_goes_on_without_counts_or_views(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "GET", "status-counts/", 400, error("Filtro no válido."))
    apis.on("tickets", "GET", "views/", 403, error("No."))
    response = technician.get("/tickets/")
    assert response.status_code == 200
    assert 'data-testid="count-all"' not in response.content.decode()
    assert "SD-1" in response.content.decode()


# --- Saved views ------------------------------------------------------------------------


def test_saved_views_are_listed_with_their_counts_and_links(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    apis.on(
        "tickets",
        "GET",
        "views/",
        body=[
            view_json(),
            view_json(id=9, name="Míos", filters={"assignee_id": "3"}, shared=True, owner_id=1),
        ],
    )
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    link = html.split('">Red urgente</a>')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {
        "priority": ["urgent"],
        "team": ["3"],
        "tag": ["vpn", "oficina"],
    }
    assert '">Red urgente</a> <span class="count">12</span>' in html
    assert 'href="/tickets/?assigned=me">Míos</a>' in html
    # Only their own views offer a delete button.
    assert 'action="/tickets/views/8/delete/"' in html
    assert 'action="/tickets/views/9/delete/"' not in html


def test_following_a_views_link_asks_for_its_filters(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    technician.get("/tickets/?priority=urgent&team=3&tag=vpn&tag=oficina")
    params = apis.called("tickets", "GET", "")[0].params
    assert params == {"priority": ["urgent"], "team_id": ["3"], "tag": ["vpn", "oficina"]}


def test_saving_a_view_keeps_the_current_filters_and_ordering(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "views/", 201, view_json(id=10, name="Mis urgentes"))
    query = "priority=urgent&assigned=me&tags=vpn&ordering=-priority&cursor=xyz"
    response = technician.post(
        "/tickets/views/", {"view-name": "Mis urgentes", "view-shared": "on", "query": query}
    )
    assert response.status_code == 302
    assert (
        response["Location"] == "/tickets/?priority=urgent&assigned=me&tags=vpn&ordering=-priority"
    )
    assert apis.called("tickets", "POST", "views/")[0].body == {
        "name": "Mis urgentes",
        "filters": {
            "priority": "urgent",
            "ordering": "-priority",
            "assignee_id": "3",
            "tag": ["vpn"],
        },
        "shared": False,  # only admins share
    }


def test_admins_may_share_a_view(admin: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = admin.get("/tickets/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Compartir con todos" in html
    apis.on("tickets", "POST", "views/", 201, view_json(id=10, shared=True))
    admin.post("/tickets/views/", {"view-name": "Todo", "view-shared": "on", "query": ""})
    assert apis.called("tickets", "POST", "views/")[0].body["shared"] is True


def test_technicians_are_not_offered_sharing(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Guardar vista" in html
    assert "Compartir con todos" not in html


def test_a_view_without_a_name_is_not_saved(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    response = technician.post("/tickets/views/", {"view-name": " ", "query": ""}, follow=True)
    assert response.status_code == 200
    assert apis.called("tickets", "POST", "views/") == []


def test_the_apis_refusal_of_a_view_is_shown(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "views/", 400, error("Ya tienes una vista con ese nombre."))
    response = technician.post("/tickets/views/", {"view-name": "X", "query": ""}, follow=True)
    assert "Ya tienes una vista con ese nombre." in response.content.decode()


def test_deleting_a_view(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "DELETE", "views/8/", 204)
    response = technician.post("/tickets/views/8/delete/", {"query": "status=pending"})
    assert response["Location"] == "/tickets/?status=pending"
    assert len(apis.called("tickets", "DELETE", "views/8/")) == 1


def test_view_names_are_escaped(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "GET", "views/", body=[view_json(name=EVIL, filters={"q": EVIL})])
    html = technician.get("/tickets/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- Bulk actions -----------------------------------------------------------------------


def test_the_queue_offers_checkboxes_and_the_action_bar(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'action="/tickets/bulk/"' in html
    assert '<input type="checkbox" name="bulk-ids" value="1" id="select-1"' in html
    assert 'aria-label="Seleccionar SD-1"' in html
    assert 'data-select-all="bulk-ids"' in html
    assert 'aria-label="Seleccionar todos los de esta página"' in html
    for action in ("assign", "status", "priority", "team", "add_tags", "remove_tags"):
        assert f'name="bulk-action" value="{action}"' in html
    assert '<option value="4">Tina Técnica</option>' in html


def test_a_bulk_action_shows_how_many_applied_and_which_failed(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    apis.on(
        "tickets",
        "POST",
        "bulk/",
        body={
            "results": [
                {"id": 1, "ok": True, "error": None},
                {"id": 2, "ok": False, "error": "No se puede pasar de Resuelto a Pendiente."},
                {"id": 77, "ok": False, "error": "not found"},
            ]
        },
    )
    response = technician.post(
        "/tickets/bulk/",
        {
            "bulk-ids": ["1", "2", "77"],
            "bulk-number_1": "SD-1",
            "bulk-number_2": "SD-2",
            "bulk-action": "status",
            "bulk-status": "pending",
            "query": "priority=urgent",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/?priority=urgent"
    assert apis.called("tickets", "POST", "bulk/")[0].body == {
        "ids": [1, 2, 77],
        "action": "status",
        "value": "pending",
    }
    html = technician.get("/tickets/?priority=urgent", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'data-testid="bulk-outcome"' in html
    assert "1 ticket cambiado." in html
    assert "2 tickets no se han cambiado:" in html
    assert "<li><strong>SD-2</strong>: No se puede pasar de Resuelto a Pendiente.</li>" in html
    assert "<li><strong>77</strong>: not found</li>" in html
    # Shown once.
    again = technician.get("/tickets/").content.decode()
    assert 'data-testid="bulk-outcome"' not in again


@pytest.mark.parametrize(
    ("fields", "action", "value"),
    [
        ({"bulk-assignee": "me"}, "assign", "3"),
        ({"bulk-assignee": "none"}, "assign", None),
        ({"bulk-assignee": "4"}, "assign", "4"),
        ({"bulk-priority": "urgent"}, "priority", "urgent"),
        ({"bulk-team": "4"}, "team", 4),
        ({"bulk-team": "none"}, "team", None),
        ({"bulk-tags": "VPN, Oficina"}, "add_tags", ["vpn", "oficina"]),
        ({"bulk-tags": "vpn"}, "remove_tags", ["vpn"]),
    ],
)
def test_each_bulk_action_sends_its_value(
    technician: Client, apis: FakeApis, fields: dict[str, str], action: str, value: object
) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "bulk/", body={"results": [{"id": 1, "ok": True, "error": None}]})
    technician.post("/tickets/bulk/", {"bulk-ids": "1", "bulk-action": action, **fields})
    body = apis.called("tickets", "POST", "bulk/")[0].body
    assert (body["action"], body["value"]) == (action, value)


def test_a_bulk_action_without_tickets_sends_nothing(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    response = technician.post(
        "/tickets/bulk/",
        {"bulk-action": "status", "bulk-status": "pending"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "Tick the tickets to change first." in response.content.decode()
    assert apis.called("tickets", "POST", "bulk/") == []


def test_tags_are_required_to_add_tags(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    technician.post("/tickets/bulk/", {"bulk-ids": "1", "bulk-action": "add_tags"})
    assert apis.called("tickets", "POST", "bulk/") == []


def test_more_than_500_tickets_are_refused(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    ids = [str(i) for i in range(1, 502)]
    technician.post(
        "/tickets/bulk/", {"bulk-ids": ids, "bulk-action": "status", "bulk-status": "pending"}
    )
    assert apis.called("tickets", "POST", "bulk/") == []


def test_a_refused_bulk_request_shows_the_apis_message(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "bulk/", 400, error("Datos no válidos.", {"value": ["Mal."]}))
    response = technician.post(
        "/tickets/bulk/",
        {"bulk-ids": "1", "bulk-action": "status", "bulk-status": "pending"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Datos no válidos. Mal." in response.content.decode()


def test_a_bulk_action_when_tickets_is_down_says_nothing_changed(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    apis.down.add("tickets")
    response = technician.post(
        "/tickets/bulk/",
        {"bulk-ids": "1", "bulk-action": "status", "bulk-status": "pending"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    apis.down.clear()
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing was changed" in html


def test_bulk_outcome_errors_and_numbers_are_escaped(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "bulk/", body={"results": [{"id": 1, "ok": False, "error": EVIL}]})
    technician.post(
        "/tickets/bulk/",
        {"bulk-ids": "1", "bulk-number_1": EVIL, "bulk-action": "priority", "bulk-priority": "low"},
    )
    html = technician.get("/tickets/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_clients_cannot_use_bulk_actions_nor_views(client_user: Client, apis: FakeApis) -> None:
    assert client_user.post("/tickets/bulk/", {"bulk-ids": "1"}).status_code == 403
    assert client_user.post("/tickets/views/", {"view-name": "x"}).status_code == 403
    assert apis.called("tickets", "POST", "bulk/") == []
    assert apis.called("tickets", "POST", "views/") == []


def test_counts_that_do_not_fit_the_contract_are_not_shown(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    apis.on("tickets", "GET", "status-counts/", body={"pending": 1})
    response = technician.get("/tickets/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="count-all"' not in html
    assert 'data-testid="unavailable"' in html
    assert "SD-1" in html


def test_a_views_ordering_is_one_the_queue_offers(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = technician.get("/tickets/?ordering=first_response_due").content.decode()
    assert apis.called("tickets", "GET", "")[0].params["ordering"] == ["first_response_due"]
    assert '<option value="first_response_due" selected>' in html
