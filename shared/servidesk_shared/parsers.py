"""Request body parsing for every API: DRF's JSON parser, refusing what it lets through.

DRF's ``JSONParser`` turns malformed JSON into a 400 but lets ``RecursionError`` escape,
so a body of a hundred thousand ``[`` was a 500 on every endpoint that reads JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error: the data is nested too deeply.")) from None
