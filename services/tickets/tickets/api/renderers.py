"""JSON out through msgspec: the bytes DRF's ``JSONRenderer`` writes, faster.

Why: encoding a list page with the standard library's ``json`` (DRF's way) is a visible
part of a list request; msgspec encodes the same bytes for much less (figures in
``docs/benchmarks.md``). msgspec comes with ``servidesk-shared`` (the event envelopes use
it).

The output is the same: compact separators, UTF-8 (not ``\\u`` escapes), ``\\u2028`` and
``\\u2029`` escaped as DRF does; anything msgspec does not encode natively (lazy
translations in error messages, querysets, ...) goes through DRF's own encoder.
``test_renderers`` compares the two byte for byte. (DRF's strict mode refuses NaN, which
msgspec writes as ``null``; this API renders no floats.) A client asking for indented JSON
(``Accept: application/json; indent=4``) gets DRF's renderer itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()
_encoder = msgspec.json.Encoder(enc_hook=_fallback.default, decimal_format="number")


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        if indent is not None or self.ensure_ascii or not self.compact:
            return super().render(data, accepted_media_type, renderer_context)  # type: ignore[no-any-return]
        body = _encoder.encode(data)
        # As DRF does, so the JSON is also valid JavaScript.
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
