"""The gateway's API reference, served by web (issue 20): ``/api/schema/`` indexes the
four APIs' schemas, ``/api/docs/`` is Swagger UI with a selector for them."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db

SCHEMAS = [
    "/api/accounts/schema/",
    "/api/tickets/schema/",
    "/api/notifications/schema/",
    "/api/reports/schema/",
]


def test_the_index_lists_the_four_schemas(client: Client) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "schemas": [
            {
                "service": "accounts",
                "title": "Servidesk accounts API",
                "url": "/api/accounts/schema/",
                "docs": "/api/accounts/docs/",
            },
            {
                "service": "tickets",
                "title": "Servidesk tickets API",
                "url": "/api/tickets/schema/",
                "docs": "/api/tickets/docs/",
            },
            {
                "service": "notifier",
                "title": "Servidesk notifications API",
                "url": "/api/notifications/schema/",
                "docs": "/api/notifications/docs/",
            },
            {
                "service": "reports",
                "title": "Servidesk reports API",
                "url": "/api/reports/schema/",
                "docs": "/api/reports/docs/",
            },
        ]
    }


def test_the_docs_page_offers_the_four_schemas(client: Client) -> None:
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    for url in SCHEMAS:
        assert f'"url": "{url}"' in html
    assert '<div id="swagger-ui"></div>' in html


def test_the_docs_page_runs_no_inline_script(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()
    tags = re.findall(r"<script\b[^>]*>", html)
    assert len(tags) == 4
    for tag in tags:
        # A file of this site, or data (JSON) that no browser runs.
        assert ' src="/static/' in tag or 'type="application/json"' in tag, tag
    assert re.search(r"<script [^>]*\bsrc=\"[^\"]+/portal/api-docs[^\"]*\.js\"", html)
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no event handler attributes


def test_the_docs_page_carries_its_own_content_security_policy(client: Client) -> None:
    policy = client.get("/api/docs/")["Content-Security-Policy"]
    directives = dict(part.strip().partition(" ")[::2] for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert "'unsafe-eval'" not in policy
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "http" not in policy  # nothing from another origin


def test_the_docs_page_assets_are_web_s_static_files(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert len(assets) == 5  # Swagger UI's CSS, icon, two scripts, and the page's own script
    for asset in assets:
        assert finders.find(asset), asset
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js" in assets


def test_the_start_script_reads_the_list_and_uses_the_standalone_layout() -> None:
    path = finders.find("portal/api-docs.js")
    assert path
    with open(path, encoding="utf-8") as script:
        code = script.read()
    assert 'getElementById("api-specs")' in code
    assert 'layout: "StandaloneLayout"' in code
    assert "SwaggerUIStandalonePreset" in code
    assert "urls: specs" in code


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_both_are_404_when_the_docs_are_not_public(
    path: str, client: Client, settings: Settings
) -> None:
    settings.PUBLIC_API_DOCS = False
    response = client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["extra"]["code"] == "not_found"
    assert body["message"]
    assert "Content-Security-Policy" not in response


def test_they_only_read(client: Client) -> None:
    assert client.post("/api/schema/").status_code == 405
    assert client.post("/api/docs/").status_code == 405
    assert client.head("/api/docs/").status_code == 200
