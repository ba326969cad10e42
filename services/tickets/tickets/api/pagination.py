"""Keyset (cursor) pagination over ``(field, id)``: constant cost at any depth.

DRF's ``CursorPagination`` keys on the first ordering field alone and steps over ties
with an offset, which degrades to a scan on a column with few values (``priority``).
Here the cursor carries the last row's ``(value, id)`` and the next page is
``WHERE field <= v AND (field < v OR id < last_id)``: the first half lets PostgreSQL
seek into the ``(field, id)`` index, the second settles ties. The page shape is the
contract's ``{"results": [...], "next": url|null, "previous": url|null}``.

A cursor is opaque (URL-safe base64 of a small JSON document); a malformed one is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db.models import DateTimeField, Model, Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from servidesk_shared.errors import ApplicationError

CURSOR_PARAM: Final = "cursor"
PAGE_SIZE_PARAM: Final = "page_size"
ORDERING_PARAM: Final = "ordering"
DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 100


def bad_parameter(name: str, message: str) -> ApplicationError:
    return ApplicationError(_("The data sent is not valid."), extra={"fields": {name: [message]}})


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool

    @classmethod
    def parse(cls, text: str) -> Ordering:
        return cls(text.removeprefix("-"), text.startswith("-"))

    def order_by(self, *, reverse: bool = False) -> list[str]:
        descending = self.descending != reverse
        sign = "-" if descending else ""
        return [f"{sign}{self.field}", f"{sign}id"]

    def after(self, value: Any, last_id: int, *, reverse: bool = False) -> Q:
        """Rows strictly after ``(value, last_id)`` in this ordering (or before, reversed)."""
        descending = self.descending != reverse
        op_eq, op_strict, id_op = ("lte", "lt", "lt") if descending else ("gte", "gt", "gt")
        return Q(**{f"{self.field}__{op_eq}": value}) & (
            Q(**{f"{self.field}__{op_strict}": value}) | Q(**{f"id__{id_op}": last_id})
        )


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: int
    reverse: bool


class KeysetPagination(BasePagination):
    """Paginates a queryset by one of ``orderings`` (the first is the default)."""

    orderings: Sequence[str] = ("-created_at",)
    #: Whether the caller may pick one of ``orderings`` with ``?ordering=``.
    allow_ordering_param: bool = False

    def __init__(self) -> None:
        self.page: list[Any] = []
        self.next_url: str | None = None
        self.previous_url: str | None = None

    # --- request parameters ---------------------------------------------------------

    def ordering(self, request: Request) -> Ordering:
        text = request.query_params.get(ORDERING_PARAM, "") if self.allow_ordering_param else ""
        if not text:
            return Ordering.parse(self.orderings[0])
        if text not in self.orderings:
            raise bad_parameter(
                ORDERING_PARAM,
                _("Order by one of: %(choices)s.") % {"choices": ", ".join(self.orderings)},
            )
        return Ordering.parse(text)

    @staticmethod
    def page_size(request: Request) -> int:
        text = request.query_params.get(PAGE_SIZE_PARAM, "")
        if not text:
            return DEFAULT_PAGE_SIZE
        if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
            raise bad_parameter(
                PAGE_SIZE_PARAM,
                _("Give a whole number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE},
            )
        return int(text)

    @staticmethod
    def decode_cursor(text: str, field: Any) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            value, last_id, reverse = raw["v"], raw["i"], raw["r"]
            if not isinstance(last_id, int) or isinstance(last_id, bool):
                raise TypeError(last_id)
            if not isinstance(reverse, bool):
                raise TypeError(reverse)
            if isinstance(field, DateTimeField):
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise TypeError(value)
            elif not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(value)
        except (ValueError, TypeError, KeyError, UnicodeEncodeError, binascii.Error) as exc:
            raise bad_parameter(CURSOR_PARAM, _("This cursor is not valid.")) from exc
        return Cursor(value=value, id=last_id, reverse=reverse)

    @staticmethod
    def encode_cursor(value: Any, last_id: int, *, reverse: bool) -> str:
        if isinstance(value, datetime):
            value = value.isoformat()
        raw = json.dumps({"v": value, "i": last_id, "r": reverse}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    # --- paging ---------------------------------------------------------------------

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        ordering = self.ordering(request)
        size = self.page_size(request)
        model: type[Model] = queryset.model
        field = model._meta.get_field(ordering.field)
        text = request.query_params.get(CURSOR_PARAM, "")
        cursor = self.decode_cursor(text, field) if text else None
        url = request.build_absolute_uri()

        def link(row: Any, *, reverse: bool) -> str:
            token = self.encode_cursor(getattr(row, ordering.field), row.id, reverse=reverse)
            return replace_query_param(url, CURSOR_PARAM, token)

        if cursor is None or not cursor.reverse:
            rows = self.fetch(queryset, ordering, size, cursor, reverse=False)
            self.page = rows[:size]
            self.next_url = link(self.page[-1], reverse=False) if len(rows) > size else None
            if cursor is None:
                self.previous_url = None
            elif self.page:
                self.previous_url = link(self.page[0], reverse=True)
            else:
                self.previous_url = remove_query_param(url, CURSOR_PARAM)
        else:
            rows = self.fetch(queryset, ordering, size, cursor, reverse=True)
            self.page = list(reversed(rows[:size]))
            if len(rows) > size:
                self.previous_url = link(self.page[0], reverse=True)
            else:
                self.previous_url = None
            self.next_url = link(self.page[-1], reverse=False) if self.page else None
        return self.page

    @staticmethod
    def fetch(
        queryset: QuerySet[Any],
        ordering: Ordering,
        size: int,
        cursor: Cursor | None,
        *,
        reverse: bool,
    ) -> list[Any]:
        """Up to ``size + 1`` rows after ``cursor`` (before it, ``reverse``)."""
        if cursor is not None:
            queryset = queryset.filter(ordering.after(cursor.value, cursor.id, reverse=reverse))
        return list(queryset.order_by(*ordering.order_by(reverse=reverse))[: size + 1])

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_url, "previous": self.previous_url, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = [
            {
                "name": CURSOR_PARAM,
                "in": "query",
                "required": False,
                "description": "The opaque cursor of the `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": PAGE_SIZE_PARAM,
                "in": "query",
                "required": False,
                "description": f"Results per page, 1 to {MAX_PAGE_SIZE} "
                f"(default {DEFAULT_PAGE_SIZE}).",
                "schema": {"type": "integer"},
            },
        ]
        if self.allow_ordering_param:
            parameters.append(
                {
                    "name": ORDERING_PARAM,
                    "in": "query",
                    "required": False,
                    "description": f"Default `{self.orderings[0]}`.",
                    "schema": {"type": "string", "enum": list(self.orderings)},
                }
            )
        return parameters


class TicketPagination(KeysetPagination):
    orderings = (
        "-created_at",
        "created_at",
        "-updated_at",
        "updated_at",
        "-priority",
        "priority",
        "-number",
        "number",
        "resolution_due",
        "-resolution_due",
        "first_response_due",
        "-first_response_due",
    )
    allow_ordering_param = True


class ConversationPagination(KeysetPagination):
    """Comments, oldest first, like a conversation reads."""

    orderings = ("created_at",)


class HistoryPagination(KeysetPagination):
    orderings = ("at",)
