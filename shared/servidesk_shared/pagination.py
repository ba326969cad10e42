"""The one list shape of the contract: ``{"results": [...], "next": url, "previous": url}``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class CursorPage(CursorPagination):
    """Cursor pagination: stable under inserts and cheap at any depth.

    A bad ``page_size`` or ``cursor`` is a 400 naming the parameter; DRF would silently
    ignore the first and answer 404 to the second.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | list[str] | tuple[str, ...] = "-created_at"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param or "page_size", "")
        if raw == "":
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            message = _("Give a whole number from 1 to %(max)s.") % {"max": self.max_page_size}
            raise ValidationError({"page_size": [message]})
        return min(int(raw), self.max_page_size)

    def decode_cursor(self, request: Request) -> Any:
        if request.query_params.get(self.cursor_query_param) == "":
            return None  # blank means "not given", as for every optional query parameter
        try:
            return super().decode_cursor(request)
        except NotFound:
            message = _("This cursor is not valid; start again from the first page.")
            raise ValidationError({"cursor": [message]}) from None
