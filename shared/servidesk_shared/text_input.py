"""Text that cannot be stored is refused at the door: NUL and unpaired surrogates.

PostgreSQL's text types cannot hold U+0000, and a lone UTF-16 surrogate (JSON
``"\\ud800"``) has no UTF-8 form: either one reaching the database, in a write, a lookup
or a filter, ended as a 500. ``InvalidTextMiddleware`` checks every string a request
carries before any view sees it and answers 400 in the APIs' error shape, one entry per
field (names as ``errors.flatten_field_errors`` writes them):

* query parameters, names and values;
* JSON bodies: every string and key at any depth (``title``, ``tags.2``, ``actions.status``);
* form bodies of a POST, urlencoded or multipart: field names and values (Django itself
  drops unprintable characters from uploaded file names);
* the parameters the matching route captures from the path (a path that matches no
  route is left alone: it stays a 404).

    GET /api/tickets/?q=%00  ->  400 {"message": "The data sent is not valid.",
                                      "extra": {"fields": {"q": ["This text contains ..."]}}}

Under ``/api/`` (every API's prefix) the answer is that JSON; anywhere else (web's
pages) it is the service's own 400 page, through ``handler400``.

A JSON body is parsed here only when its raw bytes hold an escape that can make such a
character (``\\u0000``, ``\\ud800`` to ``\\udfff``), so an ordinary body is parsed once,
by DRF; a body that is not valid JSON is left to DRF's 400.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from servidesk_shared.errors import error_body

#: What no text may hold: NUL (PostgreSQL refuses it) and the UTF-16 surrogates, which
#: can only appear unpaired in a Python string and have no UTF-8 encoding.
INVALID_CHARACTERS: Final = re.compile("[\x00\ud800-\udfff]")
#: The JSON escapes that decode to one of those (``\u`` must be lower case in JSON).
_JSON_ESCAPE: Final = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
#: Where requests are API calls, answered in the APIs' JSON error shape.
API_PATHS: Final = "/api/"
_FORM_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def invalid_characters(text: str) -> list[str]:
    """The characters of ``text`` no text may hold, as ``U+0000`` codes, each once."""
    return list(dict.fromkeys(f"U+{ord(char):04X}" for char in INVALID_CHARACTERS.findall(text)))


class _Fields:
    """Collects ``{field: [message]}`` for the strings found to hold invalid characters."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def check(self, name: str, *texts: str) -> None:
        codes = list(dict.fromkeys(code for text in texts for code in invalid_characters(text)))
        if codes and (field := INVALID_CHARACTERS.sub("\ufffd", name)) not in self.errors:
            self.errors[field] = [
                _("This text contains a character that cannot be stored (%(characters)s).")
                % {"characters": ", ".join(codes)}
            ]

    def check_lists(self, items: Iterable[tuple[str, list[str]]]) -> None:
        for name, values in items:
            self.check(name, name, *values)

    def check_json(self, data: Any) -> None:
        # Iterative: a deeply nested body must not exhaust the recursion limit here.
        pending: list[tuple[str, Any]] = [("", data)]
        while pending:
            name, value = pending.pop()
            if isinstance(value, str):
                self.check(name or "non_field_errors", value)
            elif isinstance(value, dict):
                for key, item in value.items():
                    child = f"{name}.{key}" if name else str(key)
                    self.check(child, str(key))
                    pending.append((child, item))
            elif isinstance(value, list):
                pending.extend(
                    (f"{name}.{index}" if name else str(index), item)
                    for index, item in enumerate(value)
                )


def invalid_text_fields(request: HttpRequest) -> dict[str, list[str]]:
    """``{field: [message]}`` for every string in ``request`` that holds invalid characters."""
    fields = _Fields()
    if INVALID_CHARACTERS.search(request.path_info):
        try:
            match = resolve(request.path_info)
        except Resolver404:
            pass  # no route: the 404 says what is wrong
        else:
            # Only what a route captures: a path no route wants stays a 404 (an API's
            # catch-all route takes no parameters).
            fields.check_lists((name, [str(value)]) for name, value in match.kwargs.items())
    fields.check_lists(request.GET.lists())

    content_type = request.content_type or ""
    if request.method == "POST" and content_type in _FORM_TYPES:
        # A broken multipart body: the view's parser answers 400 for it.
        with contextlib.suppress(MultiPartParserError):
            fields.check_lists(request.POST.lists())
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = request.body
        if _JSON_ESCAPE.search(body):
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                pass  # not JSON: DRF's parser answers 400 for it
            else:
                fields.check_json(data)
    return fields.errors


class InvalidTextMiddleware:
    """400 naming each field that holds text no database or encoder can take."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = invalid_text_fields(request)
        if not fields:
            return self.get_response(request)
        if not request.path_info.startswith(API_PATHS):
            raise BadRequest(f"invalid characters in {', '.join(fields)}")
        return JsonResponse(error_body(_("The data sent is not valid."), fields=fields), status=400)
