"""Files the browser sends with a ticket or a reply, held to the attachment limits while
Django parses the form.

``AttachmentLimitHandler`` comes first in ``FILE_UPLOAD_HANDLERS``: it passes each chunk on
to Django's own handlers (memory, then temporary file) until a file is over
``ATTACHMENT_MAX_BYTES`` or the request's files are over ``ATTACHMENTS_REQUEST_MAX_BYTES``;
from then on that file is skipped, so an oversized upload never fills memory or disk, while
the text fields around it are parsed as usual and the form comes back with what was typed.
``refusals(request)`` tells the form which files were skipped::

    form = ReplyForm(request.POST, request.FILES, refused=uploads.refusals(request))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from portal import conf


@dataclass
class Refusals:
    """The names of the files skipped while parsing: too large each, or past the
    request's total."""

    too_large: list[str] = field(default_factory=list)
    over_total: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.too_large) + len(self.over_total)


class AttachmentLimitHandler(FileUploadHandler):
    """Skips a file once it or the request's files together are over the limits."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.refusals = Refusals()
        self.per_file = conf.attachment_max_bytes()
        self.per_request = conf.attachments_request_max_bytes()
        self.received = 0
        self.total = 0

    def new_file(  # noqa: PLR0917 (Django's signature)
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        self.total += len(raw_data)
        if self.received > self.per_file:
            self.refusals.too_large.append(str(self.file_name or ""))
            raise SkipFile
        if self.total > self.per_request:
            self.refusals.over_total.append(str(self.file_name or ""))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        """None: the file itself is made by the next handler."""
        return None


def refusals(request: HttpRequest) -> Refusals:
    """What the request's ``AttachmentLimitHandler`` skipped (nothing, without one)."""
    for handler in request.upload_handlers:
        if isinstance(handler, AttachmentLimitHandler):
            return handler.refusals
    return Refusals()
