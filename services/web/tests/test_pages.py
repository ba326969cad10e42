"""Language, localization, static files and the pages every visitor can see."""

import pytest
from django.test import Client

from tests.fakes import FakeApis, page, ticket_json

pytestmark = pytest.mark.django_db


def test_home_is_spanish_by_default(client: Client) -> None:
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="es">' in html
    assert "Te damos la bienvenida a Servidesk" in html
    assert "Saltar al contenido" in html


def test_home_in_english_when_asked(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en">' in response.content.decode()
    assert "Welcome to Servidesk" in response.content.decode()


def test_signed_in_users_start_at_their_tickets(client_user: Client) -> None:
    response = client_user.get("/")
    assert response["Location"] == "/tickets/"


def test_dates_and_labels_follow_the_language(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "41/", body=ticket_json(created_at="2026-03-02T09:15:00Z"))
    apis.on("tickets", "GET", "41/comments/", body=page([]))
    apis.on("tickets", "GET", "41/history/", body=page([]))
    spanish = client_user.get("/tickets/41/").content.decode()
    assert "2 de marzo de 2026" in spanish
    assert "Pendiente" in spanish
    assert "Enviar respuesta" in spanish
    english = client_user.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "March 2, 2026" in english
    assert "Pending" in english


def test_an_in_progress_ticket_says_en_progreso(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "41/", body=ticket_json(status="in_progress"))
    apis.on("tickets", "GET", "41/comments/", body=page([]))
    apis.on("tickets", "GET", "41/history/", body=page([]))
    spanish = client_user.get("/tickets/41/").content.decode()
    assert "En progreso" in spanish
    assert "En curso" not in spanish


def test_the_stylesheet_is_served(client: Client) -> None:
    html = client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/portal/servidesk.css">' in html


def test_unknown_pages_are_an_html_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Página no encontrada" in response.content.decode()


def test_pages_are_not_framed_and_cookies_are_httponly(client: Client, apis: FakeApis) -> None:
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response.cookies["servidesk_csrftoken"]["httponly"]
    assert response.cookies["servidesk_csrftoken"]["samesite"] == "Lax"


def test_every_response_says_its_server_time(client: Client) -> None:
    assert client.get("/")["Server-Timing"].startswith("app;dur=")
