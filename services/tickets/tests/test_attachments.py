"""Attachments through the API: upload, list, download, who sees what, and the events.

Files go to a real filesystem storage in a temporary folder (``stored`` lists it), so
"nothing was kept" is checked on disk as well as in the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tickets import services
from tickets.models import Attachment, HistoryEntry, Ticket

from servidesk_shared.errors import ApplicationError
from servidesk_shared.events import envelope as envelopes
from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller, QueryCounter

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
TEXT = b"Registro del error: la impresora dice E-42\n"
BINARY = bytes(range(256)) * 4


@pytest.fixture
def stored(settings: Any, tmp_path: Path) -> Callable[[], list[Path]]:
    """Attachments on the filesystem under ``tmp_path``; call it to list what is there."""
    root = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return lambda: sorted(path for path in root.rglob("*") if path.is_file())


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


class Files:
    """Multipart requests as a browser sends them."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(self, url: str, data: dict[str, Any], as_: Caller) -> Any:
        return self.client.post(url, data, headers=as_.headers)

    def attach(self, ticket_id: int, file: Any, as_: Caller, **fields: Any) -> Any:
        return self.post(f"/api/tickets/{ticket_id}/attachments/", {"file": file, **fields}, as_)

    def download(self, ticket_id: int, attachment_id: int, as_: Caller, **params: Any) -> Any:
        url = f"/api/tickets/{ticket_id}/attachments/{attachment_id}/download/"
        return self.client.get(url, params, headers=as_.headers)


@pytest.fixture
def files(client: Client, stored: Any) -> Files:
    return Files(client)


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def events(ticket_id: int) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(aggregate_id=str(ticket_id)).order_by("sequence")
    return [row.envelope for row in rows]


# --- upload, list, download -------------------------------------------------------------


def test_a_client_attaches_a_file_and_downloads_it(
    files: Files, api: Api, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    client = callers["client"]
    # The name says .txt and the browser says text/html: the content is a PNG.
    response = files.attach(ticket.pk, upload("captura.txt", PNG, "text/html"), client)
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert set(answer) == {
        "id",
        "filename",
        "size",
        "content_type",
        "comment_id",
        "created_at",
        "uploaded_by",
    }
    assert answer["filename"] == "captura.txt"
    assert answer["size"] == len(PNG)
    assert answer["content_type"] == "image/png"
    assert answer["comment_id"] is None
    assert answer["uploaded_by"] == 11

    listed = api.get(f"/api/tickets/{ticket.pk}/attachments/", as_=client).json()
    assert [item["id"] for item in listed["results"]] == [answer["id"]]
    assert listed["results"][0] == answer

    download = files.download(ticket.pk, answer["id"], client)
    assert download.status_code == 200
    assert body(download) == PNG
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == (
        "attachment; filename=\"captura.txt\"; filename*=UTF-8''captura.txt"
    )
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_only_sniffed_images_may_be_shown_inline(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket, client = open_ticket("client"), callers["client"]
    image = files.attach(ticket.pk, upload("a.png", PNG), client).json()
    page = files.attach(ticket.pk, upload("a.png", HTML, "image/png"), client).json()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    drawing = files.attach(ticket.pk, upload("b.svg", svg, "image/svg+xml"), client).json()
    assert (page["content_type"], drawing["content_type"]) == ("text/html", "image/svg+xml")

    shown = files.download(ticket.pk, image["id"], client, inline="1")
    assert shown["Content-Disposition"].startswith("inline; ")
    assert files.download(ticket.pk, image["id"], client)["Content-Disposition"].startswith(
        "attachment; "
    )
    for item in (page, drawing):
        response = files.download(ticket.pk, item["id"], client, inline="true")
        assert response["Content-Disposition"].startswith("attachment; ")
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response["X-Content-Type-Options"] == "nosniff"
    bad = files.download(ticket.pk, image["id"], client, inline="perhaps")
    assert bad.status_code == 400
    assert "inline" in bad.json()["extra"]["fields"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("informe.pdf", PDF, "application/pdf"),
        ("no-extension", PDF, "application/pdf"),
        ("notas.txt", TEXT, "text/plain"),
        ("datos.bin", BINARY, "application/octet-stream"),
        ("photo.png", BINARY, "application/octet-stream"),
        ("page.pdf", HTML, "text/html"),
    ],
)
def test_the_type_comes_from_the_content(
    files: Files,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    name: str,
    data: bytes,
    expected: str,
) -> None:
    ticket = open_ticket("client")
    answer = files.attach(ticket.pk, upload(name, data, "image/png"), callers["client"]).json()
    assert answer["content_type"] == expected
    download = files.download(ticket.pk, answer["id"], callers["client"])
    assert download["Content-Type"].split(";")[0] == expected


def test_a_text_file_is_served_as_utf8(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    answer = files.attach(ticket.pk, upload("log.txt", TEXT), callers["client"]).json()
    download = files.download(ticket.pk, answer["id"], callers["client"])
    assert download["Content-Type"] == "text/plain; charset=utf-8"


def test_a_unicode_name_is_kept_and_offered_in_both_forms(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    name = 'Factura "marzo" año.pdf'
    answer = files.attach(ticket.pk, upload(name, PDF), callers["client"]).json()
    assert answer["filename"] == "Factura _marzo_ año.pdf"
    disposition = files.download(ticket.pk, answer["id"], callers["client"])["Content-Disposition"]
    plain = re.search(r'filename="([^"]*)"', disposition)
    exact = re.search(r"filename\*=UTF-8''(\S+)$", disposition)
    assert plain is not None
    assert exact is not None
    assert plain.group(1) == "Factura _marzo_ ano.pdf"
    assert unquote(exact.group(1)) == "Factura _marzo_ año.pdf"


def test_the_stored_name_is_random_not_the_uploaders(
    files: Files,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    stored: Callable[[], list[Path]],
) -> None:
    ticket = open_ticket("client")
    name = "../../etc/passwd"
    answer = files.attach(ticket.pk, upload(name, TEXT), callers["client"]).json()
    assert answer["filename"] == "passwd"
    (path,) = stored()
    assert "passwd" not in str(path)
    assert re.fullmatch(r"[0-9a-f]{32}", path.name)
    assert path.read_bytes() == TEXT


# --- bad input --------------------------------------------------------------------------


def test_bad_uploads_are_4xx_and_keep_nothing(
    files: Files,
    api: Api,
    client: Client,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    stored: Callable[[], list[Path]],
) -> None:
    ticket, caller = open_ticket("client"), callers["client"]
    url = f"/api/tickets/{ticket.pk}/attachments/"

    empty = files.attach(ticket.pk, upload("empty.txt", b""), caller)
    assert empty.status_code == 400
    assert "file" in empty.json()["extra"]["fields"]
    missing = files.post(url, {"comment_id": "1"}, caller)
    assert missing.status_code == 400
    assert "file" in missing.json()["extra"]["fields"]
    as_json = api.post(url, {"file": "aGVsbG8="}, as_=caller)
    assert as_json.status_code == 415
    not_a_number = files.attach(ticket.pk, upload("a.txt", TEXT), caller, comment_id="x")
    assert not_a_number.status_code == 400
    assert "comment_id" in not_a_number.json()["extra"]["fields"]
    broken = client.post(
        url,
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=x",
        headers=caller.headers,
    )
    assert broken.status_code == 400
    nul = files.attach(ticket.pk, upload("a.txt", TEXT), caller, note="a\x00b")
    assert nul.status_code == 400

    assert not Attachment.objects.exists()
    assert stored() == []


def test_a_file_over_the_limit_is_413_with_a_clear_message(
    files: Files,
    settings: Any,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    stored: Callable[[], list[Path]],
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    ticket = open_ticket("client")
    response = files.attach(ticket.pk, upload("big.bin", b"x" * 1025), callers["client"])
    assert response.status_code == 413
    answer = response.json()
    assert answer["extra"]["code"] == "file_too_large"
    assert answer["extra"]["limit"] == 1024
    assert "big.bin" in answer["message"]
    assert "1 KiB" in answer["message"]
    assert files.attach(ticket.pk, upload("ok.bin", b"x" * 1024), callers["client"]).status_code
    assert len(stored()) == 1


def test_a_request_over_the_limit_is_413_before_it_is_read(
    files: Files,
    settings: Any,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    stored: Callable[[], list[Path]],
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 4096
    settings.ATTACHMENTS_REQUEST_MAX_BYTES = 6000
    ticket = open_ticket("client")
    caller = callers["client"]
    # Declared larger than files plus form text may be: refused before parsing.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = files.post(
        "/api/tickets/",
        {"title": "t", "description": "d", "files": [upload("a", PDF * 200)]},
        caller,
    )
    assert response.status_code == 413
    assert response.json()["extra"]["code"] == "request_too_large"
    assert "MiB" in response.json()["message"] or "KiB" in response.json()["message"]

    # Within the body limit, but the files together are over the files' limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    three = [upload(f"{n}.txt", b"y" * 3000) for n in range(3)]
    response = files.post(
        f"/api/tickets/{ticket.pk}/comments/", {"body": "b", "files": three}, caller
    )
    assert response.status_code == 413
    assert response.json()["extra"]["code"] == "files_too_large"
    assert Ticket.objects.count() == 1
    assert not Attachment.objects.exists()
    assert stored() == []


def test_form_text_over_the_limit_is_413_too(
    files: Files, settings: Any, callers: dict[str, Caller], stored: Callable[[], list[Path]]
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = files.post(
        "/api/tickets/",
        {"title": "t", "description": "d" * 5000, "files": [upload("a.pdf", PDF)]},
        callers["client"],
    )
    assert response.status_code == 413
    assert response.json()["extra"]["code"] == "request_too_large"
    assert not Ticket.objects.exists()
    assert stored() == []


def test_too_many_files_is_a_400_that_says_so(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    many = [upload(f"{n}.txt", TEXT) for n in range(11)]
    response = files.post(
        f"/api/tickets/{ticket.pk}/comments/", {"body": "b", "files": many}, callers["client"]
    )
    assert response.status_code == 400
    assert response.json()["extra"]["code"] == "too_many_files"
    assert "10" in response.json()["message"]


def test_a_multipart_body_elsewhere_keeps_the_usual_limit(
    client: Client, settings: Any, callers: dict[str, Caller]
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/api/tickets/categories/",
        {"slug": "x", "name": "y", "file": upload("a", b"z" * 2000)},
        headers=callers["admin"].headers,
    )
    assert response.status_code == 413


# --- create with files, events ----------------------------------------------------------


def test_a_ticket_opened_with_files_lists_them_in_its_event(
    files: Files, api: Api, callers: dict[str, Caller], stored: Callable[[], list[Path]]
) -> None:
    client = callers["client"]
    response = files.post(
        "/api/tickets/",
        {
            "title": "Impresora",
            "description": "Adjunto captura y registro.",
            "priority": "high",
            "files": [upload("captura.png", PNG), upload("registro.txt", TEXT)],
        },
        client,
    )
    assert response.status_code == 201, response.json()
    ticket = response.json()
    assert ticket["priority"] == "high"
    listed = api.get(f"/api/tickets/{ticket['id']}/attachments/", as_=client).json()["results"]
    assert [(item["filename"], item["comment_id"]) for item in listed] == [
        ("captura.png", None),
        ("registro.txt", None),
    ]
    assert len(stored()) == 2

    (created,) = events(ticket["id"])
    assert created["type"] == "ticket.created"
    event = envelopes.decode(envelopes.parse_envelope(created))
    assert [
        (item.id, item.filename, item.size, item.content_type, item.comment_id)
        for item in event.data.attachments  # type: ignore[attr-defined]
    ] == [
        (listed[0]["id"], "captura.png", len(PNG), "image/png", None),
        (listed[1]["id"], "registro.txt", len(TEXT), "text/plain", None),
    ]
    assert created["data"]["attachments"][0]["download_path"] == (
        f"/api/tickets/{ticket['id']}/attachments/{listed[0]['id']}/download/"
    )
    assert set(created["data"]["attachments"][0]) == {
        "id",
        "filename",
        "size",
        "content_type",
        "comment_id",
        "download_path",
    }


def test_a_comment_with_files_carries_them_in_its_event(
    files: Files, api: Api, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    technician = callers["technician"]
    url = f"/api/tickets/{ticket.pk}/comments/"
    public = files.post(url, {"body": "Mire esto", "files": [upload("guia.pdf", PDF)]}, technician)
    note = files.post(
        url,
        {"body": "Nota", "internal": "true", "files": [upload("interno.txt", TEXT)]},
        technician,
    )
    assert (public.status_code, note.status_code) == (201, 201)
    assert note.json()["internal"] is True

    commented = [e["data"] for e in events(ticket.pk) if e["type"] == "ticket.commented"]
    assert [
        (data["comment"]["id"], [(a["filename"], a["comment_id"]) for a in data["attachments"]])
        for data in commented
    ] == [
        (public.json()["id"], [("guia.pdf", public.json()["id"])]),
        (note.json()["id"], [("interno.txt", note.json()["id"])]),
    ]
    assert commented[1]["comment"]["internal"] is True
    plain = api.post(url, {"body": "Sin archivos"}, as_=technician)
    assert plain.status_code == 201
    assert events(ticket.pk)[-1]["data"]["attachments"] == []


def test_files_through_the_services_as_inbound_mail_sends_them(
    stored: Callable[[], list[Path]], callers: dict[str, Caller]
) -> None:
    client = callers["client"].actor
    ticket = services.ticket_create(
        actor=client,
        title="Por correo",
        description="Adjunto el PDF",
        files=[ContentFile(PDF, name="factura.pdf")],
    )
    comment = services.comment_create(
        ticket_id=ticket.pk, actor=client, body="Otro", files=[ContentFile(PNG, name="c.png")]
    )
    assert [
        (a.filename, a.content_type, a.comment_id) for a in Attachment.objects.order_by("id")
    ] == [("factura.pdf", "application/pdf", None), ("c.png", "image/png", comment.pk)]
    assert len(stored()) == 2


def test_the_services_hold_the_same_limits(
    settings: Any, stored: Callable[[], list[Path]], callers: dict[str, Caller]
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100
    client = callers["client"].actor
    with pytest.raises(ApplicationError) as too_large:
        services.ticket_create(
            actor=client, title="t", description="d", files=[ContentFile(b"x" * 101, name="a")]
        )
    assert too_large.value.status_code == 413
    with pytest.raises(ApplicationError) as empty:
        services.ticket_create(
            actor=client, title="t", description="d", files=[ContentFile(b"", name="a")]
        )
    assert empty.value.status_code == 400
    assert empty.value.extra["code"] == "empty_file"
    assert not Ticket.objects.exists()
    assert stored() == []


def test_a_storage_failure_keeps_nothing(
    settings: Any, tmp_path: Path, callers: dict[str, Caller]
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "tests.test_attachments.SecondSaveFails",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    with pytest.raises(ApplicationError) as failure:
        services.ticket_create(
            actor=callers["client"].actor,
            title="t",
            description="d",
            files=[ContentFile(TEXT, name="a.txt"), ContentFile(TEXT, name="b.txt")],
        )
    assert failure.value.status_code == 503
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


class SecondSaveFails:
    """A filesystem storage whose disk fills up after the first file (the outside world
    failing; the test only chooses when)."""

    def __new__(cls, **options: Any) -> Any:
        from django.core.files.storage import FileSystemStorage  # noqa: PLC0415

        class Failing(FileSystemStorage):
            saves = 0

            def _save(self, name: str, content: Any) -> str:
                Failing.saves += 1
                if Failing.saves > 1:
                    raise OSError(28, "No space left on device")
                return super()._save(name, content)

        return Failing(**options)


# --- attaching on its own ---------------------------------------------------------------


def test_a_file_added_on_its_own_is_history_and_moves_the_ticket(
    files: Files, api: Api, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    before = Ticket.objects.get(pk=ticket.pk)
    published = len(events(ticket.pk))
    assert files.attach(ticket.pk, upload("a.pdf", PDF), callers["client"]).status_code == 201
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.updated_at > before.updated_at
    assert after.version == before.version + 1
    history = api.get(f"/api/tickets/{ticket.pk}/history/", as_=callers["client"]).json()
    assert history["results"][-1]["field"] == "attachment"
    assert history["results"][-1]["to"] == "a.pdf"
    # No event type for it: the next event carries the ticket.
    assert len(events(ticket.pk)) == published


# --- visibility -------------------------------------------------------------------------


def test_files_of_internal_notes_never_reach_clients(
    files: Files, api: Api, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    client, technician = callers["client"], callers["technician"]
    note = services.comment_create(
        ticket_id=ticket.pk,
        actor=technician.actor,
        body="internal",
        internal=True,
        files=[ContentFile(TEXT, name="secret.txt")],
    )
    public = files.attach(ticket.pk, upload("public.pdf", PDF), client).json()
    before = Ticket.objects.get(pk=ticket.pk)
    later = files.attach(ticket.pk, upload("later.txt", TEXT), technician, comment_id=note.pk)
    assert later.status_code == 201
    assert later.json()["comment_id"] == note.pk
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.updated_at, after.version) == (before.updated_at, before.version)
    hidden = Attachment.objects.filter(comment=note).values_list("id", flat=True)

    url = f"/api/tickets/{ticket.pk}/attachments/"
    seen_by_client = [item["id"] for item in api.get(url, as_=client).json()["results"]]
    assert seen_by_client == [public["id"]]
    seen_by_staff = [item["id"] for item in api.get(url, as_=technician).json()["results"]]
    assert set(seen_by_staff) == {public["id"], *hidden}
    for attachment_id in hidden:
        assert files.download(ticket.pk, attachment_id, client).status_code == 404
        assert files.download(ticket.pk, attachment_id, technician).status_code == 200
    client_history = api.get(f"/api/tickets/{ticket.pk}/history/", as_=client).json()
    assert "note_attachment" not in {entry["field"] for entry in client_history["results"]}
    staff_history = api.get(f"/api/tickets/{ticket.pk}/history/", as_=technician).json()
    assert "note_attachment" in {entry["field"] for entry in staff_history["results"]}


def test_clients_see_files_of_their_own_tickets_only(
    files: Files, api: Api, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    theirs = open_ticket("other_client")
    answer = files.attach(theirs.pk, upload("x.pdf", PDF), callers["other_client"]).json()
    client = callers["client"]
    assert api.get(f"/api/tickets/{theirs.pk}/attachments/", as_=client).status_code == 404
    assert files.download(theirs.pk, answer["id"], client).status_code == 404
    assert files.attach(theirs.pk, upload("y.pdf", PDF), client).status_code == 404
    # The right file under the wrong ticket is not found either.
    mine = open_ticket("client")
    assert files.download(mine.pk, answer["id"], client).status_code == 404
    assert files.download(mine.pk, answer["id"], callers["admin"]).status_code == 404
    assert files.download(theirs.pk, answer["id"], callers["admin"]).status_code == 200
    anonymous = Client().get(f"/api/tickets/{theirs.pk}/attachments/{answer['id']}/download/")
    assert anonymous.status_code == 401


def test_who_may_attach_to_which_comment(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    client, technician = callers["client"], callers["technician"]
    own = services.comment_create(ticket_id=ticket.pk, actor=client.actor, body="mine")
    reply = services.comment_create(ticket_id=ticket.pk, actor=technician.actor, body="reply")
    note = services.comment_create(
        ticket_id=ticket.pk, actor=technician.actor, body="note", internal=True
    )
    elsewhere = services.comment_create(
        ticket_id=open_ticket("client").pk, actor=client.actor, body="other ticket"
    )

    def attach(caller: Caller, comment_id: int) -> Any:
        return files.attach(ticket.pk, upload("f.txt", TEXT), caller, comment_id=comment_id)

    assert attach(client, own.pk).status_code == 201
    assert attach(client, reply.pk).status_code == 403
    # An internal note is "no such comment" to a client, as an id that does not exist.
    refused = attach(client, note.pk)
    assert refused.status_code == 400
    assert attach(client, 10**12).json() == refused.json()
    assert attach(client, elsewhere.pk).status_code == 400
    assert attach(technician, note.pk).status_code == 201
    assert attach(technician, own.pk).status_code == 201


# --- query counts -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 6])
def test_the_list_costs_the_same_for_any_number_of_files(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    stored: Any,
    assert_queries: QueryCounter,
    count: int,
) -> None:
    ticket = open_ticket("client")
    note = services.comment_create(
        ticket_id=ticket.pk, actor=callers["technician"].actor, body="n", internal=True
    )
    for n in range(count):
        services.attachment_add(
            ticket_id=ticket.pk,
            actor=callers["technician"].actor,
            file=ContentFile(TEXT, name=f"{n}.txt"),
            comment_id=note.pk if n % 2 else None,
        )
    url = f"/api/tickets/{ticket.pk}/attachments/"
    # The caller's directory check, the ticket, the page.
    with assert_queries(3):
        staff = api.get(url, as_=callers["technician"])
    with assert_queries(3):
        client = api.get(url, as_=callers["client"])
    assert len(staff.json()["results"]) == count
    assert len(client.json()["results"]) == (count + 1) // 2


def test_a_download_costs_one_query_after_the_callers_check(
    files: Files,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    assert_queries: QueryCounter,
) -> None:
    ticket = open_ticket("client")
    answer = files.attach(ticket.pk, upload("a.pdf", PDF), callers["client"]).json()
    with assert_queries(2):
        response = files.download(ticket.pk, answer["id"], callers["client"])
    assert body(response) == PDF


# --- the model and its migration ----------------------------------------------------------


def test_history_entries_of_attachments_are_plain_history(
    files: Files, callers: dict[str, Caller], open_ticket: Callable[..., Ticket]
) -> None:
    ticket = open_ticket("client")
    files.attach(ticket.pk, upload("a.pdf", PDF), callers["client"])
    entry = HistoryEntry.objects.filter(ticket=ticket, field="attachment").get()
    assert (entry.actor_id, entry.from_value, entry.to_value) == ("11", None, "a.pdf")
