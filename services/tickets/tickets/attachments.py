"""Files sent with tickets and comments: what a file may be, what it is, where it goes.

Every way in (the API's uploads, inbound mail) passes its files through ``check``, which
``tickets.services`` calls first in each write that takes files:

- **Limits** (settings): at most ``ATTACHMENT_MAX_BYTES`` per file and
  ``ATTACHMENTS_REQUEST_MAX_BYTES`` for all the files of one write (413 over either), at
  most ``ATTACHMENTS_MAX_FILES`` files (400); an empty file is a 400. The API refuses a
  larger body before reading it (``tickets.api.uploads``); these hold for mail too.
- **Name**: ``clean_filename`` keeps the last path part only, drops control, format and
  separator characters (NUL, CR/LF, bidi overrides), keeps any other Unicode, and bounds
  the length keeping the extension. The name is only shown and offered on download.
- **Type**: ``sniff_content_type`` reads the content (puremagic's signatures, then "is
  it UTF-8 text"), else ``application/octet-stream``. The client's declared type is never
  used; the file name's extension only breaks a tie between types the content matches
  equally (a ZIP container that may be .docx, .xlsx or .pptx).

The bytes go to ``storages["attachments"]`` (``STORAGES`` in settings: the filesystem
under ``var/media/`` or S3-compatible storage, ``core.settings.storage``), under a random
key that says nothing of the name; ``store`` writes them as the last step of the write's
transaction and takes back what it stored if any write fails.

    uploads = attachments.check(files)      # 400/413 before anything is written
    ... rows, event ...
    attachments.store([(row.storage_key, upload.file) for ...])
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

import puremagic
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils.translation import gettext as _
from rest_framework import status

from servidesk_shared.errors import ApplicationError
from tickets.models import FILENAME_MAX_LENGTH

logger = logging.getLogger(__name__)

#: The ``STORAGES`` alias the files live in.
STORAGE_ALIAS: Final = "attachments"
#: Sniffed types a browser may show in place (``?inline=1``); anything else downloads.
INLINE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
FALLBACK_TYPE: Final = "application/octet-stream"
TEXT_TYPE: Final = "text/plain"
#: What a sniffed MIME type must look like to be sent in a header.
_MIME_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")
#: Characters Windows refuses in file names, replaced so a download saves anywhere.
_UNSAFE_IN_NAMES: Final = re.compile(r'[<>:"|?*]')
#: Enough text to tell UTF-8 prose from binary.
_TEXT_SAMPLE_BYTES: Final = 8192
#: Control characters plain text does hold.
_TEXT_CONTROLS: Final = frozenset("\t\n\r\f")
#: The longest extension kept whole when a long name is shortened.
_MAX_SUFFIX: Final = 16
DEFAULT_FILENAME: Final = "attachment"


class AttachmentTooLargeError(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class AttachmentStorageError(ApplicationError):
    """The storage did not take the bytes (object storage down): nothing was kept."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked file: the content, and what tickets records of it."""

    file: File  # type: ignore[type-arg]
    filename: str
    size: int
    content_type: str


def max_file_bytes() -> int:
    return int(settings.ATTACHMENT_MAX_BYTES)


def max_request_bytes() -> int:
    return int(settings.ATTACHMENTS_REQUEST_MAX_BYTES)


def max_files() -> int:
    return int(settings.ATTACHMENTS_MAX_FILES)


def storage() -> Storage:
    return storages[STORAGE_ALIAS]


def check(files: Sequence[File]) -> list[Upload]:  # type: ignore[type-arg]
    """The files as ``Upload``s, or the ``ApplicationError`` of the first limit broken."""
    if len(files) > max_files():
        raise ApplicationError(
            _("Send at most %(count)s files at once.") % {"count": max_files()},
            extra={"code": "too_many_files", "limit": max_files()},
        )
    uploads: list[Upload] = []
    total = 0
    for file in files:
        filename = clean_filename(file.name or "")
        size = file_size(file)
        if size == 0:
            raise ApplicationError(
                _("The file %(name)s is empty.") % {"name": filename},
                extra={"code": "empty_file", "filename": filename},
            )
        if size > max_file_bytes():
            raise AttachmentTooLargeError(
                _("The file %(name)s is too large: at most %(limit)s per file.")
                % {"name": filename, "limit": human_size(max_file_bytes())},
                extra={"code": "file_too_large", "filename": filename, "limit": max_file_bytes()},
            )
        total += size
        if total > max_request_bytes():
            raise AttachmentTooLargeError(
                _("These files are too large together: at most %(limit)s at once.")
                % {"limit": human_size(max_request_bytes())},
                extra={"code": "files_too_large", "limit": max_request_bytes()},
            )
        uploads.append(
            Upload(
                file=file,
                filename=filename,
                size=size,
                content_type=sniff_content_type(file, filename=filename),
            )
        )
    return uploads


def file_size(file: File) -> int:  # type: ignore[type-arg]
    """The size in bytes (Django's ``File.size``: the upload handler's count, the
    buffer's length, or the file's, without reading it)."""
    try:
        return int(file.size)
    except (AttributeError, OSError, TypeError, ValueError):
        return 0


def human_size(size: int) -> str:
    """``10 MiB``-style, for messages (the exact figure is in ``extra.limit``)."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):g} MiB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):g} KiB"
    return f"{size} bytes"


def clean_filename(name: str) -> str:
    """The name to record and offer: the last path part, printable, bounded.

    Mail programs and browsers send ``C:\\Users\\ana\\shot.png`` or ``../../etc/passwd``;
    only ``shot.png`` and ``passwd`` are kept. NUL, control and format characters (a
    right-to-left override can make ``exe.pdf`` read as ``fdp.exe``) and line or paragraph
    separators go, as do characters Windows refuses; letters of any script stay.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    name = name.rsplit("/", 1)[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}
        or char in _TEXT_CONTROLS
    )
    name = _UNSAFE_IN_NAMES.sub("_", " ".join(name.split()))
    name = name.strip(" .")
    if not name:
        return DEFAULT_FILENAME
    if len(name) > FILENAME_MAX_LENGTH:
        suffix = PurePosixPath(name).suffix
        if not suffix or len(suffix) > _MAX_SUFFIX:
            suffix = ""
        name = name[: FILENAME_MAX_LENGTH - len(suffix)].rstrip(" .") + suffix
    return name


def sniff_content_type(file: File, *, filename: str = "") -> str:  # type: ignore[type-arg]
    """The type the content says it is (never the client's word for it).

    puremagic matches signatures at the start and end of the file (it reads those two
    parts only); among the strongest matches, one whose extension is the file name's
    wins, else the first. No signature: UTF-8 text without control characters is
    ``text/plain``; anything else ``application/octet-stream``.
    """
    file.seek(0)
    try:
        matches = puremagic.magic_stream(file)
    except (puremagic.PureError, ValueError):
        matches = []
    finally:
        file.seek(0)
    typed = [match for match in matches if _MIME_TYPE.fullmatch(match.mime_type or "")]
    if typed:
        best = [match for match in typed if match.confidence == typed[0].confidence]
        suffix = PurePosixPath(filename.lower()).suffix
        chosen = next((match for match in best if match.extension == suffix), best[0])
        return str(chosen.mime_type)
    sample = file.read(_TEXT_SAMPLE_BYTES)
    file.seek(0)
    return TEXT_TYPE if _is_text(sample) else FALLBACK_TYPE


def _is_text(sample: bytes | str) -> bool:
    if isinstance(sample, str):
        sample = sample.encode()
    try:
        # Not final: the sample may end inside a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text) and all(
        char in _TEXT_CONTROLS or unicodedata.category(char) != "Cc" for char in text
    )


def new_storage_key(ticket_id: int) -> str:
    """Where a file of ticket ``ticket_id`` goes: random, never the uploader's name."""
    return f"{ticket_id}/{uuid.uuid4().hex}"


def store(items: Sequence[tuple[str, File]]) -> None:  # type: ignore[type-arg]
    """Write each ``(storage key, file)``; if one fails, delete those already written and
    raise ``AttachmentStorageError`` (the caller's transaction then takes the rows back).

    Files stream: Django's storages copy in chunks (or move an upload's temporary file)
    and django-storages' S3 backend uploads in parts.
    """
    target = storage()
    written: list[str] = []
    try:
        for key, file in items:
            file.seek(0)
            saved = target.save(key, file)
            written.append(saved)
            if saved != key:  # a storage that renamed it: keys are random, so it never does
                raise RuntimeError(f"attachment storage renamed {key} to {saved}")
    except Exception as exc:
        logger.exception("attachment storage failed; removing %s file(s) it wrote", len(written))
        discard(written)
        raise AttachmentStorageError(
            _("The file could not be stored. Please try again shortly."),
            extra={"code": "storage_unavailable"},
        ) from exc


def discard(keys: Sequence[str]) -> None:
    """Delete stored files, best effort (a leftover is unreachable: no row names it)."""
    target = storage()
    for key in keys:
        try:
            target.delete(key)
        except Exception:
            logger.exception("could not delete attachment %s", key)
