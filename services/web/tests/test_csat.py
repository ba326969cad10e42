"""The public page of the rating link (``/csat/<token>/``): no sign-in, a scanner's GET
records nothing, the answer is a POST (CSRF-protected), expired and forged links."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client

from tests.fakes import FakeApis, error

pytestmark = pytest.mark.django_db

TOKEN = "eyJ0Ijo0MX0:1vXyZa:AbC-dEf_123"
PATH = f"/csat/{TOKEN}/"
API_PATH = f"csat/{TOKEN}/"
EVIL = '"><script>alert(1)</script>'


def answer(**overrides: Any) -> dict[str, Any]:
    data = {
        "ticket": {"number": "SD-1041", "title": "La impresora no imprime"},
        "rating": None,
        "comment": "",
        "rated_at": None,
        "expires_at": "2026-03-24T09:00:00Z",
    }
    return data | overrides


def serve(apis: FakeApis, **overrides: Any) -> None:
    apis.on("tickets", "GET", API_PATH, body=answer(**overrides))


def api_calls(apis: FakeApis, method: str) -> list[Any]:
    return [c for c in apis.calls if c.method == method and c.path.startswith("csat/")]


def test_the_page_needs_no_sign_in_and_sends_no_token_of_a_user(
    client: Client, apis: FakeApis
) -> None:
    serve(apis)
    response = client.get(PATH, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    html = response.content.decode()
    assert "¿Qué tal lo hicimos?" in html
    assert "<strong>SD-1041</strong>: La impresora no imprime" in html
    assert 'data-testid="csat-good"' in html
    assert 'data-testid="csat-bad"' in html
    assert "Bien" in html
    assert "Mal" in html
    assert "csrfmiddlewaretoken" in html
    call = api_calls(apis, "GET")[0]
    assert "Authorization" not in call.headers
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_scanners_get_with_a_rating_records_nothing_but_preselects_it(
    client: Client, apis: FakeApis
) -> None:
    serve(apis)
    html = client.get(f"{PATH}?rating=bad", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert api_calls(apis, "POST") == []
    assert 'data-autosubmit="bad"' in html
    assert 'data-testid="csat-confirm"' in html
    bad = html[html.index('id="csat-bad"') - 200 : html.index('id="csat-bad"') + 300]
    assert "is-chosen" in bad
    assert "autofocus" in bad


def test_the_same_answer_again_is_not_sent_again(client: Client, apis: FakeApis) -> None:
    serve(apis, rating="good", rated_at="2026-03-11T09:00:00Z")
    html = client.get(f"{PATH}?rating=good", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "data-autosubmit" not in html
    assert 'data-testid="csat-current"' in html


def test_an_unknown_rating_in_the_link_is_ignored(client: Client, apis: FakeApis) -> None:
    serve(apis)
    html = client.get(f"{PATH}?rating={EVIL}").content.decode()
    assert "data-autosubmit" not in html
    assert "<script>alert(1)" not in html


def test_the_answer_is_a_post_then_the_page_again(client: Client, apis: FakeApis) -> None:
    serve(apis)
    apis.on("tickets", "POST", API_PATH, body=answer(rating="bad", comment="Tardó mucho"))
    response = client.post(PATH, {"rating": "bad", "comment": "Tardó mucho"})
    assert response.status_code == 302
    assert response["Location"] == PATH
    assert api_calls(apis, "POST")[0].body == {"rating": "bad", "comment": "Tardó mucho"}
    assert "Authorization" not in api_calls(apis, "POST")[0].headers
    serve(apis, rating="bad", comment="Tardó mucho", rated_at="2026-03-11T09:00:00Z")
    html = client.get(PATH, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "¡Gracias! Hemos guardado tu respuesta." in html
    assert "Tu respuesta:" in html
    assert "Tardó mucho</textarea>" in html  # kept when the answer changes
    assert 'data-testid="csat-send-comment"' in html


def test_the_post_is_csrf_protected(apis: FakeApis) -> None:
    browser = Client(enforce_csrf_checks=True)
    serve(apis)
    response = browser.post(PATH, {"rating": "good"})
    assert response.status_code == 403
    assert api_calls(apis, "POST") == []


def test_a_bad_answer_and_a_long_comment_are_refused_here(client: Client, apis: FakeApis) -> None:
    serve(apis)
    response = client.post(PATH, {"rating": "meh"})
    assert response.status_code == 400
    response = client.post(PATH, {"rating": "good", "comment": "x" * 2001})
    assert response.status_code == 400
    assert 'id="id_comment-errors"' in response.content.decode()
    assert api_calls(apis, "POST") == []


def test_the_apis_field_errors_are_shown_next_to_the_field(client: Client, apis: FakeApis) -> None:
    serve(apis)
    apis.on(
        "tickets",
        "POST",
        API_PATH,
        status=400,
        body=error("No válido.", {"comment": ["Demasiado largo."]}),
    )
    response = client.post(PATH, {"rating": "good", "comment": "hola"})
    assert response.status_code == 400
    assert "Demasiado largo." in response.content.decode()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_expired_link_says_so(client: Client, apis: FakeApis, method: str) -> None:
    body = error("Expired.", code="expired")
    apis.on("tickets", "GET", API_PATH, status=410, body=body)
    apis.on("tickets", "POST", API_PATH, status=410, body=body)
    if method == "GET":
        response = client.get(f"{PATH}?rating=good", HTTP_ACCEPT_LANGUAGE="es")
    else:
        response = client.post(PATH, {"rating": "good"}, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 410
    html = response.content.decode()
    assert 'data-testid="csat-expired"' in html
    assert "Este enlace ha caducado" in html


def test_a_forged_link_is_not_valid(client: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", API_PATH, status=404, body=error("Not found."))
    response = client.get(PATH, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 404
    assert "Este enlace no es válido" in response.content.decode()


@pytest.mark.parametrize("token", ["..", "."])
def test_dots_alone_never_reach_the_api(client: Client, apis: FakeApis, token: str) -> None:
    response = client.get(f"/csat/{token}/")
    assert response.status_code == 404
    assert apis.calls == [] or all(not c.path.startswith("csat") for c in apis.calls)


def test_too_many_tries_say_how_long_to_wait(client: Client, apis: FakeApis) -> None:
    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=error("Throttled."), headers={"Retry-After": "30"})

    apis.handle("tickets", "GET", API_PATH, throttled)
    response = client.get(PATH, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert "30 segundos" in response.content.decode()


def test_the_ticket_title_is_escaped(client: Client, apis: FakeApis) -> None:
    serve(apis, ticket={"number": "SD-1041", "title": EVIL}, comment=EVIL, rating="bad")
    html = client.get(PATH).content.decode()
    assert "<script>alert(1)" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_tickets_down_is_a_503_page(client: Client, apis: FakeApis) -> None:
    apis.down.add("tickets")
    response = client.get(PATH)
    assert response.status_code == 503


def test_too_many_answers_keep_what_was_typed(client: Client, apis: FakeApis) -> None:
    serve(apis)

    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=error("Throttled."), headers={"Retry-After": "120"})

    apis.handle("tickets", "POST", API_PATH, throttled)
    response = client.post(
        PATH, {"rating": "good", "comment": "Muy amables"}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "120"
    html = response.content.decode()
    assert "2 minutos" in html
    assert "Muy amables</textarea>" in html
