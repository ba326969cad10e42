"""The rules of ``tickets.attachments`` on their own: names, types, the storage setting,
the schema and the migration."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.generators import SchemaGenerator
from storages.backends.s3 import S3Storage
from tickets import attachments
from tickets.api.uploads import content_disposition

from core.settings.storage import attachments_storage


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("informe.pdf", "informe.pdf"),
        ("C:\\Users\\ana\\Desktop\\captura.png", "captura.png"),
        ("../../etc/passwd", "passwd"),
        ("/absolute/path/x.txt", "x.txt"),
        ("..", "attachment"),
        ("", "attachment"),
        ("   ", "attachment"),
        ("a\x00b.txt", "ab.txt"),
        ("line\r\nbreak.txt", "line break.txt"),
        ("tab\there.txt", "tab here.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("sep\u2028arated.txt", "separated.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("año niño — 日本語 🙂.txt", "año niño — 日本語 🙂.txt"),
        ("e\u0301.txt", "\u00e9.txt"),  # composed, as it will be shown
        ("  trailing dots...  ", "trailing dots"),
        ("many     spaces.txt", "many spaces.txt"),
    ],
)
def test_file_names_are_cleaned(given: str, kept: str) -> None:
    assert attachments.clean_filename(given) == kept


def test_a_long_name_is_cut_keeping_its_extension() -> None:
    name = attachments.clean_filename("ñ" * 400 + ".pdf")
    assert len(name) == 255
    assert name.endswith("ñ.pdf")
    no_extension = attachments.clean_filename("x" * 400)
    assert no_extension == "x" * 255
    odd_extension = attachments.clean_filename("x" * 300 + "." + "y" * 40)
    assert len(odd_extension) == 255


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "x.exe", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32, "", "image/jpeg"),
        (b"GIF89a" + b"\x00" * 32, "x.png", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "x", "image/webp"),
        (b"%PDF-1.7\n" + b"x" * 64, "x.png", "application/pdf"),
        (b"<html><body>hi</body></html>", "x.txt", "text/html"),
        ("plain text, ñandú\n".encode(), "x.png", "text/plain"),
        (b"\x00\x01\x02\x03" * 64, "x.txt", "application/octet-stream"),
        (b"MZ\x90\x00" + b"\x00" * 64, "x.pdf", "application/x-dosexec"),
        # Latin-1 bytes are not UTF-8: not called text.
        ("año".encode("latin-1") * 10, "x.txt", "application/octet-stream"),
    ],
)
def test_the_type_is_sniffed_from_the_content(data: bytes, name: str, expected: str) -> None:
    file = ContentFile(data, name=name)
    sniffed = attachments.sniff_content_type(file, filename=name)
    if expected == "application/x-dosexec":
        assert sniffed not in {"application/pdf", "text/plain"}
    else:
        assert sniffed == expected
    assert file.tell() == 0


def test_the_extension_only_breaks_a_tie_the_content_allows() -> None:
    """Office files are ZIP containers: the content says "one of these", the name picks."""
    archive = io.BytesIO()
    import zipfile  # noqa: PLC0415

    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("[Content_Types].xml", "<Types/>")
        zipped.writestr("xl/workbook.xml", "<workbook/>")
    data = archive.getvalue()
    sheet = attachments.sniff_content_type(ContentFile(data), filename="cuentas.xlsx")
    assert sheet == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    # A name the content does not support is not believed.
    assert attachments.sniff_content_type(ContentFile(data), filename="x.png") != "image/png"


def test_a_text_sample_cut_inside_a_character_is_still_text() -> None:
    data = "é".encode() * 4096 + b"\xc3"  # the sample ends mid-character
    assert attachments.sniff_content_type(ContentFile(data)) == "text/plain"


@pytest.mark.parametrize(
    ("name", "inline", "header"),
    [
        ("a.png", False, "attachment; filename=\"a.png\"; filename*=UTF-8''a.png"),
        ("a.png", True, "inline; filename=\"a.png\"; filename*=UTF-8''a.png"),
        ("año.pdf", False, "attachment; filename=\"ano.pdf\"; filename*=UTF-8''a%C3%B1o.pdf"),
        (
            "日本.txt",
            False,
            "attachment; filename=\"attachment.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt",
        ),
        ("日本", False, "attachment; filename=\"attachment\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC"),
        ("a;b=c.txt", False, "attachment; filename=\"a;b=c.txt\"; filename*=UTF-8''a%3Bb%3Dc.txt"),
    ],
)
def test_content_disposition(name: str, inline: bool, header: str) -> None:
    assert content_disposition(name, inline=inline) == header


def test_sizes_read_as_people_write_them() -> None:
    assert attachments.human_size(10 * 1024 * 1024) == "10 MiB"
    assert attachments.human_size(25 * 1024 * 1024) == "25 MiB"
    assert attachments.human_size(1536) == "1.5 KiB"
    assert attachments.human_size(12) == "12 bytes"


# --- ATTACHMENTS_STORAGE_URL --------------------------------------------------------------


def test_unset_is_the_filesystem_under_var(tmp_path: Path) -> None:
    assert attachments_storage("", var=tmp_path) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media" / "attachments")},
    }
    assert attachments_storage("file:///srv/files%20x", var=tmp_path)["OPTIONS"] == {
        "location": "/srv/files x"
    }


def test_an_s3_url_becomes_django_storages_options(tmp_path: Path) -> None:
    url = (
        "s3://servidesk-files/prod/attachments?endpoint=https%3A%2F%2Fminio.internal%3A9000"
        "&region=eu-west-1&addressing_style=path&access_key=AK&secret_key=s%2Fk"
    )
    config = attachments_storage(url, var=tmp_path)
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    options: dict[str, Any] = config["OPTIONS"]
    assert options == {
        "bucket_name": "servidesk-files",
        "location": "prod/attachments",
        "endpoint_url": "https://minio.internal:9000",
        "region_name": "eu-west-1",
        "addressing_style": "path",
        "access_key": "AK",
        "secret_key": "s/k",
        "file_overwrite": True,
        "default_acl": None,
        "max_memory_size": 1 << 20,
    }
    # django-storages takes them as they are (it connects only when used).
    storage = S3Storage(**options)
    assert storage.bucket_name == "servidesk-files"
    assert storage.endpoint_url == "https://minio.internal:9000"


def test_a_plain_s3_url_leaves_keys_and_region_to_the_aws_variables(tmp_path: Path) -> None:
    options = attachments_storage("s3://bucket", var=tmp_path)["OPTIONS"]
    assert options["bucket_name"] == "bucket"
    assert options["location"] == ""
    assert not {"access_key", "secret_key", "region_name", "endpoint_url"} & set(options)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/files",
        "s3://",
        "s3://key:secret@bucket",
        "s3://bucket?endpont=https%3A%2F%2Fx",  # a typo is refused, not ignored
        "s3://bucket?endpoint=file%3A%2F%2F%2Fetc",
        "file://relative/path",
        "/var/files",
    ],
)
def test_a_storage_url_that_makes_no_sense_refuses_to_start(url: str, tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="ATTACHMENTS_STORAGE_URL"):
        attachments_storage(url, var=tmp_path)


# --- schema and migration ------------------------------------------------------------------


def test_the_schema_describes_uploads_and_downloads() -> None:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    listing = paths["/api/tickets/{id}/attachments/"]
    assert set(listing) >= {"get", "post"}
    upload = listing["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data"}
    assert "413" in listing["post"]["responses"]
    download = paths["/api/tickets/{id}/attachments/{attachment_id}/download/"]["get"]
    assert download["responses"]["200"]["content"]["*/*"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert {parameter["name"] for parameter in download["parameters"]} >= {"inline"}
    for path in ("/api/tickets/", "/api/tickets/{id}/comments/"):
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}
        form = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
        files = schema["components"]["schemas"][form]["properties"]["files"]
        assert files["items"] == {"type": "string", "format": "binary"}
        as_json = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "files" not in schema["components"]["schemas"][as_json]["properties"]
    component = schema["components"]["schemas"]["Attachment"]
    assert set(component["properties"]) == {
        "id",
        "filename",
        "size",
        "content_type",
        "comment_id",
        "created_at",
        "uploaded_by",
    }


@pytest.mark.django_db
def test_the_models_and_migrations_agree() -> None:
    call_command("makemigrations", "tickets", "--check", "--dry-run", stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite cannot change tables inside the test's transaction",
)
def test_the_migration_goes_back_and_forth() -> None:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("tickets", "0003_directory_email_verified")])
    assert "tickets_attachment" not in connection.introspection.table_names()
    executor = MigrationExecutor(connection)
    executor.migrate(leaves)
    assert "tickets_attachment" in connection.introspection.table_names()
