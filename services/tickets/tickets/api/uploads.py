"""Files over HTTP: the body limit of the upload routes, and how a download is answered.

**In.** ``RequestBodyLimitMiddleware`` replaces the shared one in ``MIDDLEWARE``: a
multipart ``POST`` to a route that takes files (ticket create, comment create,
attachments) may carry ``ATTACHMENTS_REQUEST_MAX_BYTES`` of files plus the form's text
(``DATA_UPLOAD_MAX_MEMORY_SIZE``); anything larger is a 413 before a byte is read, and
every other body keeps the shared limit. It parses the form itself, so more files than
Django will take (``DATA_UPLOAD_MAX_NUMBER_FILES``) is a 400 that says so. Django writes
each file to a temporary file as it arrives (``FILE_UPLOAD_MAX_MEMORY_SIZE`` is small),
so an upload never sits whole in memory.

**Out.** ``file_response`` streams the stored file (``FileResponse``) with its sniffed
type, ``Content-Disposition: attachment`` (``inline`` only for the image types of
``tickets.attachments.INLINE_TYPES`` and only when asked), ``X-Content-Type-Options:
nosniff`` and a CSP that lets nothing in the file run or load.
"""

from __future__ import annotations

import unicodedata
from typing import Final
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from servidesk_shared import request_limits
from servidesk_shared.errors import error_body
from tickets import attachments
from tickets.models import Attachment

#: Route names (``tickets.api.urls``) that take multipart uploads.
UPLOAD_ROUTES: Final = frozenset({"ticket-list", "ticket-comments", "ticket-attachments"})
#: Nothing in a downloaded file may run or load anything, even if a browser renders it.
DOWNLOAD_CSP: Final = "default-src 'none'; sandbox"


def takes_files(request: HttpRequest) -> bool:
    if request.method != "POST" or request.content_type != "multipart/form-data":
        return False
    try:
        return resolve(request.path_info).url_name in UPLOAD_ROUTES
    except Resolver404:
        return False


def upload_body_limit() -> int:
    """The largest multipart body an upload route reads: the files and the form's text."""
    return attachments.max_request_bytes() + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class RequestBodyLimitMiddleware(request_limits.RequestBodyLimitMiddleware):
    """The shared limit, with room for files on the routes that take them."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not takes_files(request):
            return super().__call__(request)
        length = request_limits.declared_length(request)
        if length is not None and length > upload_body_limit():
            limit = attachments.max_request_bytes()
            return JsonResponse(
                error_body(
                    _("The request is too large: files may add up to %(limit)s at once.")
                    % {"limit": attachments.human_size(limit)},
                    code="request_too_large",
                    limit=limit,
                ),
                status=413,
            )
        try:
            request.FILES  # noqa: B018 (parsing it here, to answer its errors clearly)
        except TooManyFilesSent:
            return JsonResponse(
                error_body(
                    _("Send at most %(count)s files at once.") % {"count": attachments.max_files()},
                    code="too_many_files",
                    limit=attachments.max_files(),
                ),
                status=400,
            )
        except RequestDataTooBig:
            # The form's text fields, not its files, are over DATA_UPLOAD_MAX_MEMORY_SIZE.
            return request_limits.body_too_large_response(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        except MultiPartParserError:
            pass  # a broken form: the view's parser answers 400 for it
        return self.get_response(request)


def content_disposition(filename: str, *, inline: bool) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` (RFC 6266): the plain name
    for old clients (ASCII, quotes and backslashes dropped), the exact one for the rest."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    plain = "".join(char for char in plain if char.isprintable() and char not in '"\\')
    plain = plain.strip()
    if not plain or plain.startswith("."):  # nothing but an extension survived
        plain = attachments.DEFAULT_FILENAME + plain
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    """The stored file, streamed. ``FileNotFoundError`` if the storage lost it."""
    handle = attachments.storage().open(attachment.storage_key, "rb")
    content_type = attachment.content_type
    if content_type == attachments.TEXT_TYPE:
        content_type += "; charset=utf-8"  # sniffed as UTF-8 text
    response = FileResponse(handle, content_type=content_type)
    show_inline = inline and attachment.content_type in attachments.INLINE_TYPES
    response["Content-Disposition"] = content_disposition(attachment.filename, inline=show_inline)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-cache"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
