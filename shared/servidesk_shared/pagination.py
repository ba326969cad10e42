"""The one list shape of the contract: ``{"results": [...], "next": url, "previous": url}``."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    """Cursor pagination: stable under inserts and cheap at any depth."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | list[str] | tuple[str, ...] = "-created_at"
