"""Attachments in the browser UI: files sent with a new ticket or a reply (multipart, to the
tickets API faked at the HTTP boundary), the limits shown and enforced, the files listed
on the ticket page, and downloads passed through with headers that keep them inert."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from portal import uploads
from portal.api import http
from pytest_django.fixtures import Settings

from tests.fakes import (
    FakeApis,
    SentFile,
    attachment_json,
    error,
    file_answer,
    page,
    serve_ticket,
    ticket_json,
    token,
)

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
#: The smallest valid PNG signature and header: enough for a file called an image.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, content, content_type=content_type)


def comment_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": 1,
        "author_id": 7,
        "author_name": "Ana Cliente",
        "body": "Adjunto la captura",
        "internal": False,
        "created_at": "2026-03-02T10:00:00Z",
    }
    return data | overrides


def new_ticket(**extra: Any) -> dict[str, Any]:
    return {"title": "VPN caída", "description": "Texto largo", "priority": "high", **extra}


def file_field_errors(html: str) -> str:
    found = re.search(r'<ul class="errors" id="id_attachments-errors">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


# --- Sending files ----------------------------------------------------------------------


def test_opening_a_ticket_sends_its_files_as_multipart(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "POST", "", 201, ticket_json(id=77, number="SD-1077"))
    files = [upload("captura.png", PNG, "image/png"), upload("notas.txt", b"hola", "text/plain")]
    response = client_user.post("/tickets/new/", new_ticket(attachments=files))
    assert response.status_code == 302
    assert response["Location"] == "/tickets/77/"
    [call] = apis.called("tickets", "POST", "")
    assert call.body == {"title": "VPN caída", "description": "Texto largo", "priority": "high"}
    assert call.files == [
        SentFile("files", "captura.png", "image/png", PNG),
        SentFile("files", "notas.txt", "text/plain", b"hola"),
    ]
    # Streamed from the files with its length known up front, not as a chunked body.
    assert int(call.headers["Content-Length"]) > len(PNG) + 4
    assert "Transfer-Encoding" not in call.headers


class ChunkRecorder(httpx.BaseTransport):
    """Reads a request's body as the network would, chunk by chunk, then lets the fake
    APIs answer it."""

    def __init__(self, apis: FakeApis) -> None:
        self.apis = apis
        self.chunks: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        body = []
        for chunk in request.stream:
            self.chunks.append(len(chunk))
            body.append(chunk)
        replay = httpx.Request(
            request.method, request.url, headers=request.headers, content=b"".join(body)
        )
        return self.apis(replay)


def test_files_go_out_in_chunks_never_whole(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, comment_json())
    recorder = ChunkRecorder(apis)
    http.use_transport(recorder)
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB: spooled to a temporary file
    response = client_user.post(
        "/tickets/41/", {"body": "Grande", "attachments": upload("grande.bin", content)}
    )
    assert response.status_code == 302
    assert apis.called("tickets", "POST", "41/comments/")[0].files[0].content == content
    assert max(recorder.chunks) <= 64 * 1024
    assert sum(recorder.chunks) > len(content)


def test_a_reply_and_a_note_send_their_files_with_the_comment(
    technician: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, comment_json())
    note = {"body": "Registro del equipo", "internal": "1", "attachments": upload("log.txt", b"x")}
    reply = {"body": "Mire la captura", "reply": "", "attachments": upload("c.png", PNG)}
    assert technician.post("/tickets/41/", note)["Location"] == "/tickets/41/#conversation"
    technician.post("/tickets/41/", reply)
    sent = apis.called("tickets", "POST", "41/comments/")
    assert [call.body for call in sent] == [
        {"body": "Registro del equipo", "internal": "true"},
        {"body": "Mire la captura", "internal": "false"},
    ]
    assert [[f.filename for f in call.files] for call in sent] == [["log.txt"], ["c.png"]]


def test_a_client_reply_with_files_is_never_internal(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, comment_json())
    data = {"body": "Gracias", "internal": "1", "attachments": upload("a.txt", b"a")}
    client_user.post("/tickets/41/", data)
    assert apis.called("tickets", "POST", "41/comments/")[0].body["internal"] == "false"


def test_files_are_sent_again_whole_after_a_token_refresh(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "POST", "auth/token/refresh/", body={"access": token(), "refresh": "r2"})
    answers = iter([httpx.Response(401, json=error("Token expired.")), None])

    def comments(request: httpx.Request) -> httpx.Response:
        return next(answers) or httpx.Response(201, json=comment_json())

    apis.handle("tickets", "POST", "41/comments/", comments)
    content = bytes(range(256)) * 1000
    data = {"body": "Otra vez", "attachments": upload("datos.bin", content)}
    assert client_user.post("/tickets/41/", data).status_code == 302
    first, second = apis.called("tickets", "POST", "41/comments/")
    sent = [SentFile("files", "datos.bin", "application/octet-stream", content)]
    assert first.files == second.files == sent


def test_without_files_the_api_still_gets_json(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, comment_json())
    client_user.post("/tickets/41/", {"body": "Sin archivos"})
    [call] = apis.called("tickets", "POST", "41/comments/")
    assert call.headers["Content-Type"] == "application/json"
    assert call.body == {"body": "Sin archivos", "internal": False}


def test_files_as_large_as_the_contract_allows_pass_web(
    client_user: Client, apis: FakeApis
) -> None:
    # 24 MiB in three files under the 10 MiB per-file limit: web's own upload settings
    # (DATA_UPLOAD_MAX_MEMORY_SIZE counts text fields only) must let them through.
    apis.on("tickets", "POST", "41/comments/", 201, comment_json())
    files = [upload(f"parte{n}.bin", bytes([n]) * (8 * MIB)) for n in range(3)]
    response = client_user.post("/tickets/41/", {"body": "Tres partes", "attachments": files})
    assert response.status_code == 302
    [call] = apis.called("tickets", "POST", "41/comments/")
    assert [len(f.content) for f in call.files] == [8 * MIB] * 3


# --- The limits -------------------------------------------------------------------------


def test_the_new_ticket_form_shows_the_limits_tied_to_the_file_field(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    html = client_user.get("/tickets/new/").content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert '<label for="id_attachments">Archivos adjuntos' in html
    field = re.search(r"<input[^>]*id=\"id_attachments\"[^>]*>", html)
    assert field is not None
    tag = field.group(0)
    assert 'type="file"' in tag
    assert " multiple" in tag
    assert 'aria-describedby="id_attachments-help"' in tag
    assert 'data-max-file-bytes="10485760"' in tag
    assert 'data-max-total-bytes="26214400"' in tag
    assert 'data-max-files="10"' in tag
    assert 'data-too-many-files="Envía como mucho 10 archivos a la vez."' in tag
    assert 'data-file-too-large="“%(name)s” pesa más de 10,0\xa0MB' in tag
    assert (
        'id="id_attachments-help">Hasta 10 archivos, de 10,0\xa0MB como mucho cada uno y '
        "25,0\xa0MB en total."
    ) in html


def test_the_reply_form_shows_the_limits_from_the_setting(
    client_user: Client, apis: FakeApis, settings: Settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 5 * MIB
    serve_ticket(apis)
    html = client_user.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    reply = html[html.index('id="reply"') - 200 :]
    assert 'enctype="multipart/form-data"' in reply
    assert 'data-max-file-bytes="5242880"' in reply
    assert "Up to 10 files, each up to 5.0\xa0MB and 25.0\xa0MB in all." in reply


def test_a_file_over_the_limit_is_refused_and_the_text_kept(
    client_user: Client, apis: FakeApis, settings: Settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    apis.on("tickets", "GET", "categories/", body=[])
    files = [upload("pequeño.txt", b"a" * 1000), upload("grande.bin", b"b" * 5000)]
    response = client_user.post(
        "/tickets/new/", new_ticket(attachments=files), HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "“grande.bin” is larger than 1000\xa0bytes, the most a file can be." in (
        file_field_errors(html)
    )
    assert "pequeño.txt" not in file_field_errors(html)
    assert "Texto largo</textarea>" in html
    assert 'value="VPN caída"' in html
    assert apis.called("tickets", "POST", "") == []


def test_a_reply_over_the_request_total_is_refused(
    client_user: Client, apis: FakeApis, settings: Settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 2000
    settings.ATTACHMENTS_REQUEST_MAX_BYTES = 3000
    serve_ticket(apis)
    files = [upload(f"{n}.txt", b"x" * 1500) for n in range(3)]
    response = client_user.post(
        "/tickets/41/", {"body": "Mi respuesta", "attachments": files}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "The files add up to more than 2.9\xa0KB." in file_field_errors(html)
    assert "Mi respuesta</textarea>" in html
    assert apis.called("tickets", "POST", "41/comments/") == []


def test_more_files_than_tickets_takes_at_once_are_refused(
    client_user: Client, apis: FakeApis, settings: Settings
) -> None:
    settings.ATTACHMENTS_MAX_FILES = 2
    serve_ticket(apis)
    files = [upload(f"{n}.txt", b"x") for n in range(3)]
    response = client_user.post(
        "/tickets/41/", {"body": "Tres", "attachments": files}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Send at most 2 files at once." in file_field_errors(response.content.decode())
    assert apis.called("tickets", "POST", "41/comments/") == []


def test_the_upload_handler_stops_storing_a_file_over_the_limit(settings: Settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENTS_REQUEST_MAX_BYTES = 1500
    files = [upload("a.bin", b"a" * 900), upload("b.bin", b"b" * 5000), upload("c.bin", b"c" * 900)]
    request = RequestFactory().post("/tickets/new/", {"title": "t", "attachments": files})
    stored = request.FILES.getlist("attachments")
    refused = uploads.refusals(request)
    # b is over the per-file limit; c would take the request past its total.
    assert [f.name for f in stored] == ["a.bin"]
    assert refused.too_large == ["b.bin"]
    assert refused.over_total == ["c.bin"]
    assert request.POST["title"] == "t"


def test_an_api_refusal_of_the_files_is_shown_at_the_file_field(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "POST", "", 413, {"detail": "Cada archivo puede pesar 10 MB como mucho."})
    response = client_user.post(
        "/tickets/new/", new_ticket(attachments=[upload("a.pdf", b"%PDF-1.4")])
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Cada archivo puede pesar 10 MB como mucho." in file_field_errors(html)
    assert 'aria-describedby="id_attachments-help id_attachments-errors"' in html
    assert "Texto largo</textarea>" in html


def test_an_api_refusal_in_the_contract_shape_is_shown_too(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis)
    apis.on("tickets", "POST", "41/comments/", 413, error("Demasiado grande en total."))
    response = client_user.post(
        "/tickets/41/", {"body": "Con adjunto", "attachments": upload("a.pdf", b"%PDF")}
    )
    assert response.status_code == 400
    assert "Demasiado grande en total." in file_field_errors(response.content.decode())


def test_the_apis_errors_about_one_file_go_next_to_the_file_field(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis)
    refusal = error("Datos no válidos.", {"files.1": ["El archivo está vacío."]})
    apis.on("tickets", "POST", "41/comments/", 400, refusal)
    files = [upload("a.txt", b"a"), upload("b.txt", b"b")]
    response = client_user.post("/tickets/41/", {"body": "Dos", "attachments": files})
    assert "El archivo está vacío." in file_field_errors(response.content.decode())


def test_an_unrelated_error_asks_for_the_files_again(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    apis.on("tickets", "POST", "41/comments/", 400, error("x", {"body": ["Demasiado corto."]}))
    response = client_user.post(
        "/tickets/41/",
        {"body": "Hola", "attachments": upload("a.pdf", b"%PDF")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert "Demasiado corto." in html
    assert "Choose the files again" in file_field_errors(html)


# --- The ticket page --------------------------------------------------------------------

FILES = [
    attachment_json(),  # the ticket's own PDF
    attachment_json(id=6, filename="captura.png", size=2048, content_type="image/png"),
    attachment_json(id=7, filename="dibujo.svg", size=900, content_type="image/svg+xml"),
    attachment_json(id=8, filename="pagina.html", size=120, content_type="text/html"),
]
for _file in FILES[1:]:
    _file["comment_id"] = 1


@pytest.mark.parametrize("shape", ["list", "page"])
def test_the_ticket_page_lists_files_by_comment_with_size_type_and_link(
    client_user: Client, apis: FakeApis, shape: str
) -> None:
    serve_ticket(apis)
    apis.on("tickets", "GET", "41/comments/", body=page([comment_json()]))
    apis.on("tickets", "GET", "41/attachments/", body=FILES if shape == "list" else page(FILES))
    html = client_user.get("/tickets/41/").content.decode()
    description = html[html.index('id="description-title"') : html.index('id="conversation"')]
    conversation = html[html.index('data-testid="conversation"') : html.index('id="reply"')]
    assert 'href="/tickets/41/attachments/5/" download' in description
    assert ">informe.pdf</a>" in description
    assert "51,2\xa0KB" in description
    assert "application/pdf" in description
    for name in ("captura.png", "dibujo.svg", "pagina.html"):
        assert f">{name}</a>" in conversation
    assert "2,0\xa0KB" in conversation
    assert "image/svg+xml" in conversation


def test_only_raster_images_get_a_thumbnail(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    apis.on("tickets", "GET", "41/comments/", body=page([comment_json()]))
    apis.on("tickets", "GET", "41/attachments/", body=FILES)
    html = client_user.get("/tickets/41/").content.decode()
    thumbnails = re.findall(r"<img [^>]*>", html)
    assert thumbnails == [
        '<img class="thumbnail" src="/tickets/41/attachments/6/?inline=1" alt="captura.png" '
        'loading="lazy" decoding="async" data-testid="thumbnail">'
    ]


def test_files_of_comments_not_shown_are_never_shown(client_user: Client, apis: FakeApis) -> None:
    # The API leaves internal notes and their files out for a client; should it list a
    # note's file anyway, web shows only the files of the comments it shows.
    serve_ticket(apis)
    apis.on("tickets", "GET", "41/comments/", body=page([comment_json()]))
    files = [
        attachment_json(id=6, filename="visible.txt", comment_id=1),
        attachment_json(id=9, filename="nota-interna.txt", comment_id=2),
    ]
    apis.on("tickets", "GET", "41/attachments/", body=files)
    html = client_user.get("/tickets/41/").content.decode()
    assert "visible.txt" in html
    assert "nota-interna.txt" not in html
    assert "/attachments/9/" not in html


def test_staff_see_the_files_of_internal_notes_inside_the_note(
    technician: Client, apis: FakeApis
) -> None:
    serve_ticket(apis)
    note = comment_json(id=2, author_id=3, internal=True, body="Nota")
    apis.on("tickets", "GET", "41/comments/", body=page([note]))
    apis.on("tickets", "GET", "41/attachments/", body=[attachment_json(id=9, comment_id=2)])
    html = technician.get("/tickets/41/").content.decode()
    note_html = html[html.index('data-testid="internal-note"') :]
    assert 'href="/tickets/41/attachments/9/"' in note_html[: note_html.index("</li>\n")]


def test_the_page_is_shown_when_the_files_cannot_be_listed(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis)
    apis.on("tickets", "GET", "41/attachments/", 403, error("No."))
    response = client_user.get("/tickets/41/")
    assert response.status_code == 200
    assert 'data-testid="attachments"' not in response.content.decode()


def test_filenames_are_text_not_markup(client_user: Client, apis: FakeApis) -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>.png'
    serve_ticket(apis)
    shown = attachment_json(filename=evil, content_type="image/png")
    apis.on("tickets", "GET", "41/attachments/", body=[shown])
    html = client_user.get("/tickets/41/").content.decode()
    assert "<script>alert(1)" not in html
    assert "onerror=alert(2)>" not in html
    escaped = (
        "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;.png"
    )
    assert f'alt="{escaped}"' in html
    assert f">{escaped}</a>" in html


# --- Downloads --------------------------------------------------------------------------


def test_a_download_streams_the_file_with_the_apis_disposition(
    client_user: Client, apis: FakeApis
) -> None:
    content = b"%PDF-1.4\n" + b"0" * 200_000
    disposition = "attachment; filename=\"informe.pdf\"; filename*=UTF-8''informe.pdf"
    apis.handle(
        "tickets",
        "GET",
        "41/attachments/5/download/",
        file_answer(content, "application/pdf", disposition),
    )
    response = client_user.get("/tickets/41/attachments/5/")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == content  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-store"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    [call] = apis.called("tickets", "GET", "41/attachments/5/download/")
    assert call.params == {}
    assert call.headers["Authorization"].startswith("Bearer ")


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/pdf"])
def test_what_is_not_a_raster_image_is_never_shown_inline(
    client_user: Client, apis: FakeApis, content_type: str
) -> None:
    # Even when tickets (wrongly) answered inline.
    apis.handle(
        "tickets",
        "GET",
        "41/attachments/5/download/",
        file_answer(b"<script>alert(1)</script>", content_type, 'inline; filename="x"'),
    )
    for url in ("/tickets/41/attachments/5/", "/tickets/41/attachments/5/?inline=1"):
        response = client_user.get(url)
        assert response["Content-Disposition"] == 'attachment; filename="x"'
        assert response["X-Content-Type-Options"] == "nosniff"


def test_a_thumbnail_is_an_inline_raster_image(client_user: Client, apis: FakeApis) -> None:
    apis.handle(
        "tickets",
        "GET",
        "41/attachments/6/download/",
        file_answer(PNG, "image/png", 'inline; filename="captura.png"'),
    )
    response = client_user.get("/tickets/41/attachments/6/?inline=1")
    assert response["Content-Disposition"] == 'inline; filename="captura.png"'
    assert b"".join(response.streaming_content) == PNG  # type: ignore[attr-defined]
    assert apis.called("tickets", "GET", "41/attachments/6/download/")[0].params == {
        "inline": ["1"]
    }
    # Without ?inline=1 the same image is a download.
    assert client_user.get("/tickets/41/attachments/6/")["Content-Disposition"].startswith(
        "attachment;"
    )


def test_a_file_the_user_may_not_see_is_a_404(client_user: Client, apis: FakeApis) -> None:
    page_response = client_user.get("/tickets/41/attachments/9/", HTTP_ACCEPT_LANGUAGE="en")
    assert page_response.status_code == 404
    assert "This page does not exist" in page_response.content.decode()
    thumbnail = client_user.get("/tickets/41/attachments/9/?inline=1")
    assert thumbnail.status_code == 404
    assert thumbnail.content == b""


def test_a_download_while_tickets_is_down_is_a_503_page(
    client_user: Client, apis: FakeApis
) -> None:
    apis.down.add("tickets")
    response = client_user.get("/tickets/41/attachments/5/")
    assert response.status_code == 503
    assert 'data-testid="unavailable"' in response.content.decode()


def test_a_download_needs_a_signed_in_user(client: Client, apis: FakeApis) -> None:
    response = client.get("/tickets/41/attachments/5/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert apis.calls == [call for call in apis.calls if call.service == "notifier"]


def test_ids_in_a_download_path_cannot_reach_other_api_paths(
    client_user: Client, apis: FakeApis
) -> None:
    assert client_user.get("/tickets/41/attachments/..%2F..%2Fcategories/").status_code == 404
    assert [c for c in apis.calls if c.service == "tickets"] == []
