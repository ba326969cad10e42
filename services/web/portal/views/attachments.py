"""Attachment downloads, streamed from tickets with the signed-in user's token (the browser
never holds one).

What the browser gets is held to what an uploaded file may do: it is a download
(``Content-Disposition: attachment``, with the API's file name) unless the page asked for a
thumbnail (``?inline=1``), tickets itself answered ``inline`` and the type is a raster image
(``INLINE_IMAGE_TYPES``); never HTML or SVG shown as a page. ``nosniff`` and a sandboxing
CSP hold even if a browser ignored the disposition.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Final

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from portal import conf
from portal.api import ApiError, client_for
from portal.api.types import INLINE_IMAGE_TYPES
from portal.decorators import signed_in

#: Nothing in the file may load, run or be framed, even when a browser shows it.
DOWNLOAD_CSP: Final = "default-src 'none'; frame-ancestors 'none'; sandbox"


def disposition(upstream: str, *, content_type: str, inline_asked: bool) -> str:
    """The browser's ``Content-Disposition``: the API's, made ``attachment`` unless an
    inline thumbnail was asked for, the API agreed, and the type is a raster image."""
    kind, _, parameters = upstream.partition(";")
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    inline = inline_asked and kind.strip().lower() == "inline" and mime in INLINE_IMAGE_TYPES
    shown = "inline" if inline else "attachment"
    return f"{shown};{parameters}" if parameters.strip() else shown


@signed_in
@require_GET
def attachment_download(
    request: HttpRequest, ticket_id: str, attachment_id: str
) -> HttpResponse | StreamingHttpResponse:
    inline_asked = request.GET.get("inline") == "1"
    stack = ExitStack()
    try:
        upstream = stack.enter_context(
            client_for(request).connection.stream(
                "tickets",
                f"{ticket_id}/attachments/{attachment_id}/download/",
                params={"inline": "1"} if inline_asked else None,
                timeout=conf.api_download_timeout(),
            )
        )
    except ApiError as exc:
        stack.close()
        if inline_asked:
            # A thumbnail that cannot be had is a broken image, not an error page in it.
            return HttpResponse(status=exc.status if 400 <= exc.status < 500 else 503)
        raise  # an error page: not found, or the service unavailable

    def body() -> Iterator[bytes]:
        with stack:
            yield from upstream.iter_bytes()

    content_type = upstream.headers.get("Content-Type") or "application/octet-stream"
    response = StreamingHttpResponse(body(), content_type=content_type)
    response["Content-Disposition"] = disposition(
        upstream.headers.get("Content-Disposition", ""),
        content_type=content_type,
        inline_asked=inline_asked,
    )
    if "Content-Length" in upstream.headers:
        response["Content-Length"] = upstream.headers["Content-Length"]
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    # No other site may embed it (as an image, say) with the user's cookies.
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # A thumbnail is shown again on every visit to the ticket: the browser may keep it a
    # while (an attachment never changes); a download is not kept.
    response["Cache-Control"] = "private, max-age=600" if inline_asked else "private, no-store"
    return response
