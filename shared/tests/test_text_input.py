"""NUL and lone surrogates in any request string: a 400 naming the field, never a 500.

The views below do what real ones do with a string: look it up in PostgreSQL (which
refuses NUL: ``ValueError``, a 500) or send it back as JSON (a lone surrogate cannot be
encoded: ``UnicodeEncodeError``, a 500). This module is also the URLconf of its tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from servidesk_shared.outbox.models import AggregateSequence
from servidesk_shared.text_input import invalid_characters
from servidesk_shared.urls import service_urlpatterns
from servidesk_testing import auth_header

pytestmark = pytest.mark.django_db


class _Lookup(APIView):
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        return Response({"found": AggregateSequence.objects.filter(aggregate_type=query).exists()})


class _Item(APIView):
    def get(self, request: Request, slug: str) -> Response:
        return Response({"found": AggregateSequence.objects.filter(aggregate_id=slug).exists()})


class _NoteSerializer(serializers.Serializer[dict[str, Any]]):
    note = serializers.JSONField()
    title = serializers.CharField(required=False)


class _Echo(APIView):
    parser_classes = [*APIView.parser_classes, FormParser, MultiPartParser]

    def post(self, request: Request) -> Response:
        serializer = _NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        AggregateSequence.objects.create(
            aggregate_type="note", aggregate_id=str(serializer.validated_data["note"])[:200]
        )
        return Response(serializer.validated_data, status=201)


def form_page(request: HttpRequest) -> HttpResponse:
    # A page outside /api/, as web's are: it must never see the refused text.
    return HttpResponse(f"<p>{len(request.POST.get('note', ''))}</p>")


def bad_request_page(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return HttpResponse("<h1>Bad request page</h1>", status=400, content_type="text/html")


urlpatterns = [
    *service_urlpatterns(
        "api/text/",
        [
            path("lookup/", _Lookup.as_view()),
            path("items/<str:slug>/", _Item.as_view()),
            path("echo/", _Echo.as_view()),
        ],
    ),
    path("page/", csrf_exempt(form_page)),
]
handler400 = "tests.test_text_input.bad_request_page"
handler404 = "servidesk_shared.errors.json_page_not_found"
handler500 = "servidesk_shared.errors.json_server_error"


@pytest.fixture(autouse=True)
def urlconf(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def client() -> APIClient:
    # Real failures must be answered, not raised into the test.
    headers = {**auth_header(user_id=7, role="admin"), "Accept-Language": "en"}
    return APIClient(headers=headers, raise_request_exception=False)


def post_json(client: APIClient, raw: str) -> Any:
    return client.post("/api/text/echo/", data=raw.encode(), content_type="application/json")


def assert_fields(response: Any, expected: dict[str, str]) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"] == "The data sent is not valid."
    fields = body["extra"]["fields"]
    assert set(fields) == set(expected)
    for name, code in expected.items():
        assert len(fields[name]) == 1
        assert code in fields[name][0], fields[name]


def test_the_characters() -> None:
    assert invalid_characters("a\x00b\x00\ud800") == ["U+0000", "U+D800"]
    assert invalid_characters("\udfff") == ["U+DFFF"]
    assert invalid_characters("Ñandú \U0001f600 \ufffd \x07 \t") == []


# --- query parameters --------------------------------------------------------------------


def test_nul_in_a_query_parameter_is_a_400_not_the_databases_500(client: APIClient) -> None:
    assert client.get("/api/text/lookup/", {"q": "network"}).json() == {"found": False}
    response = client.get("/api/text/lookup/?q=net%00work&other=fine")
    assert_fields(response, {"q": "U+0000"})


def test_nul_in_a_query_parameter_name_and_repeated_values(client: APIClient) -> None:
    response = client.get("/api/text/lookup/?tag=ok&tag=b%00d&x%00y=1")
    assert_fields(response, {"tag": "U+0000", "x\ufffdy": "U+0000"})


def test_invalid_utf8_in_the_query_is_not_an_error(client: APIClient) -> None:
    # Django decodes it with replacement characters, which PostgreSQL stores fine.
    assert client.get("/api/text/lookup/?q=%ed%a0%80%ff").status_code == 200


# --- JSON bodies -------------------------------------------------------------------------


def test_lone_surrogate_in_json_is_a_400_not_the_encoders_500(client: APIClient) -> None:
    assert post_json(client, '{"note": "fine \\u00f3 \\ud83d\\ude00"}').status_code == 201
    assert_fields(post_json(client, '{"note": "x\\ud800y"}'), {"note": "U+D800"})
    assert_fields(post_json(client, '{"note": "\\uDC00"}'), {"note": "U+DC00"})


def test_nul_anywhere_in_a_json_body_names_the_nested_field(client: APIClient) -> None:
    body = {
        "note": {"list": ["ok", "b\x00d", {"deep": "\x00"}], "k\x00ey": 1, "n": None},
        "title": "t",
    }
    response = post_json(client, json.dumps(body))
    assert_fields(
        response,
        {"note.list.1": "U+0000", "note.list.2.deep": "U+0000", "note.k\ufffdey": "U+0000"},
    )
    assert AggregateSequence.objects.count() == 0


def test_a_json_string_as_the_whole_body(client: APIClient) -> None:
    assert_fields(post_json(client, '"\\u0000"'), {"non_field_errors": "U+0000"})


def test_an_escaped_backslash_before_u0000_is_text(client: APIClient) -> None:
    # "\\u0000" in JSON is a backslash followed by "u0000": six ordinary characters.
    assert post_json(client, '{"note": "\\\\u0000"}').status_code == 201


def test_json_that_does_not_parse_is_still_drfs_400(client: APIClient) -> None:
    response = post_json(client, '{"note": "\\u0000"')
    assert response.status_code == 400
    assert response.json()["extra"]["code"] == "parse_error"


# --- form bodies -------------------------------------------------------------------------


def test_valid_forms_still_reach_the_views_parsers_whole(client: APIClient) -> None:
    # The check reads Django's request.POST first; DRF then takes the parsed form.
    # (A JSONField takes JSON text from a form: '"ok"' is the string "ok".)
    form = {"note": '"ok"', "title": "t"}
    response = client.post("/api/text/echo/", form, format="multipart")
    assert (response.status_code, response.json()) == (201, {"note": "ok", "title": "t"})
    response = client.post(
        "/api/text/echo/", data="note=%22ok2%22", content_type="application/x-www-form-urlencoded"
    )
    assert (response.status_code, response.json()) == (201, {"note": "ok2"})


def test_nul_in_a_urlencoded_form_field(client: APIClient) -> None:
    response = client.post(
        "/api/text/echo/",
        data="note=a%00b&title=ok",
        content_type="application/x-www-form-urlencoded",
    )
    assert_fields(response, {"note": "U+0000"})


def test_nul_in_a_multipart_field(client: APIClient) -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="note"\r\n\r\n'
        "a\x00b\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="re\x00port.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "content \x00 with NUL bytes is fine\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = client.post(
        "/api/text/echo/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert_fields(response, {"note": "U+0000"})  # Django drops the NUL from file names


def test_a_page_outside_the_apis_answers_with_the_services_400_page(client: APIClient) -> None:
    assert client.post("/page/", {"note": "ab"}, format="multipart").content == b"<p>2</p>"
    assert client.get("/page/?q=%00").content == b"<h1>Bad request page</h1>"
    for body, content_type in [
        ("note=a%00b", "application/x-www-form-urlencoded"),
        ('{"note": "a\\u0000b"}', "application/json"),
    ]:
        response = client.post("/page/", data=body, content_type=content_type)
        assert response.status_code == 400
        assert response.content == b"<h1>Bad request page</h1>"


# --- paths -------------------------------------------------------------------------------


def test_nul_in_a_path_parameter_names_it(client: APIClient) -> None:
    assert client.get("/api/text/items/abc/").status_code == 200
    assert_fields(client.get("/api/text/items/a%00b/"), {"slug": "U+0000"})


def test_a_path_no_route_matches_stays_a_404(client: APIClient) -> None:
    response = client.get("/api/text/nothing%00here/")
    assert response.status_code == 404
    assert response.json()["extra"]["code"] == "not_found"
    assert client.get("/elsewhere%00/").status_code == 404
