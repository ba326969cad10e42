"""Language, localization, static files and the pages every visitor can see."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.fakes import FakeApis, serve_ticket

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
    serve_ticket(apis, created_at="2026-03-02T09:15:00Z")
    spanish = client_user.get("/tickets/41/").content.decode()
    assert "2 de marzo de 2026" in spanish
    assert "Pendiente" in spanish
    assert "Enviar respuesta" in spanish
    english = client_user.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "March 2, 2026" in english
    assert "Pending" in english


def test_an_in_progress_ticket_says_en_progreso(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="in_progress")
    spanish = client_user.get("/tickets/41/").content.decode()
    assert "En progreso" in spanish
    assert "En curso" not in spanish


def test_pages_link_a_stylesheet_that_exists(client: Client) -> None:
    html = client.get("/").content.decode()
    linked = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert linked is not None
    assert linked[1].startswith(settings.STATIC_URL)
    assert finders.find(linked[1].removeprefix(settings.STATIC_URL)) is not None


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
