"""Read ``timestamptz`` columns with psycopg's C parser again (PostgreSQL, psycopg 3).

Why: Django registers its own ``timestamptz`` loader on every connection, to stamp each
value with the connection's time zone, and builds it on psycopg's pure-Python loader
(Django ticket #36960). That turns away the C loader that ``psycopg[binary]`` provides:
reading a list page (25 tickets, six date-times each) took far longer, most of it
parsing date-times in Python.

``use_c_timestamptz_parser`` (connected to ``connection_created``) swaps in a subclass of
Django's own loader that keeps everything Django does (the same ``timezone`` attribute,
the same ``replace(tzinfo=...)``) and only hands the parsing to the C loader. Without
the C implementation installed, nothing changes.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.abc import Loader
from psycopg.postgres import types
from psycopg.pq import Format

TIMESTAMPTZ_OID = types["timestamptz"].oid


def c_timestamptz_loader() -> type[Loader] | None:
    """psycopg's compiled ``timestamptz`` loader, if ``psycopg[binary]`` (or c) is there."""
    loader = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if loader is None or loader.__module__.startswith("psycopg.types"):
        return None  # the pure-Python one: Django's already does as well
    return loader


def use_c_timestamptz_parser(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "postgresql" or connection.connection is None:
        return
    parser = c_timestamptz_loader()
    adapters = connection.connection.adapters
    django_loader: Any = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if parser is None or django_loader is None or getattr(django_loader, "parses_in_c", False):
        return
    c_parser: type[Loader] = parser

    class CParsedTzLoader(django_loader):  # type: ignore[misc]
        """Django's loader (its ``timezone``, its ``load``), parsing with ``c_parser``."""

        parses_in_c = True

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self.parse = c_parser(oid, context).load

        def load(self, data: Any) -> Any:
            # What Django's BaseTzLoader.load does, with the parse in C.
            return self.parse(data).replace(tzinfo=self.timezone)

    adapters.register_loader(TIMESTAMPTZ_OID, CParsedTzLoader)
