"""Hand-written SQL for the notifier's hot paths: the consumer's inserts, the sender's claim.

Building a statement with the ORM cost more CPU than the database took to run it, once
per event in the consumer and two or three times per batch in the sender, and at a
steady trickle of events the batches are small. The statements here are built once; each
call only prepares the values that need the backend's form (UUIDs, timestamps, JSON) and turns the
rows it reads back into model instances with the ORM's own converters. Plain SQL that
PostgreSQL and SQLite both accept, except where a caller says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

#: Fields whose Python value is not what the database driver takes on every backend.
_PREPARED_TYPES = frozenset({"UUIDField", "DateTimeField", "JSONField"})


class ConflictIgnoringInsert:
    """``INSERT INTO <model> (...) VALUES (...), ... ON CONFLICT DO NOTHING``.

    ``fields`` are given per row, in this order; ``literals`` are SQL constants the same
    for every row (``"NULL"``, ``"0"``, ``"''"``). Every concrete field but the
    auto-incremented key must be in one or the other: the tables have no column defaults.
    """

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        literals: Mapping[str, str],
    ) -> None:
        meta = model._meta
        by_name = {f.attname: f for f in meta.concrete_fields if f is not meta.auto_field}
        expected = set(by_name)
        given = [*fields, *literals]
        if sorted(given) != sorted(expected):
            missing, extra = expected - set(given), set(given) - expected
            raise ValueError(f"{meta.label}: missing {sorted(missing)}, unknown {sorted(extra)}")
        self.model = model
        self.fields = [by_name[name] for name in fields]
        self.literal_fields = [by_name[name] for name in literals]
        self.literals = dict(literals)
        self._prepared = [
            index
            for index, field in enumerate(self.fields)
            if field.get_internal_type() in _PREPARED_TYPES
        ]
        self._sql: dict[tuple[str, int], str] = {}

    def sql(self, connection: BaseDatabaseWrapper, rows: int) -> str:
        """The statement for ``rows`` rows (kept: a consumer sees few different counts)."""
        key = (connection.vendor, rows)
        sql = self._sql.get(key)
        if sql is None:
            quote = connection.ops.quote_name
            columns = [quote(f.column) for f in self.fields]
            columns += [quote(f.column) for f in self.literal_fields]
            row = "(" + ", ".join(["%s"] * len(self.fields) + list(self.literals.values())) + ")"
            table = quote(self.model._meta.db_table)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names from the model)
                f"VALUES {', '.join([row] * rows)} ON CONFLICT DO NOTHING"
            )
            self._sql[key] = sql
        return sql

    def execute(self, rows: Sequence[Sequence[Any]], *, using: str = "default") -> int:
        """Insert ``rows`` (values in ``fields`` order); how many were new."""
        if not rows:
            return 0
        connection = connections[using]
        params: list[Any] = []
        prepared = self._prepared
        for row in rows:
            values = list(row)
            for index in prepared:
                values[index] = self.fields[index].get_db_prep_save(values[index], connection)
            params += values
        with connection.cursor() as cursor:
            cursor.execute(self.sql(connection, len(rows)), params)
            return int(cursor.rowcount)


class RowReader:
    """Rows of ``SELECT``/``RETURNING`` ``columns`` (the model's fields, in its field order)
    as model instances, converted as the ORM would (SQLite's text timestamps, its 0/1
    booleans, JSON text). Fields not read are deferred: they load on access."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        meta = model._meta
        order = [f.attname for f in meta.concrete_fields]
        if list(fields) != [name for name in order if name in fields]:
            raise ValueError(f"{meta.label}: give the fields in the model's order: {order}")
        by_name: dict[str, Field[Any, Any]] = {f.attname: f for f in meta.concrete_fields}
        self.model = model
        self.names = list(fields)
        self.fields = [by_name[name] for name in fields]
        self._converters: dict[str, list[tuple[int, list[Any], Any]]] = {}

    def columns(self, connection: BaseDatabaseWrapper, *, table: str = "") -> str:
        """The select list: ``"a", "b"``, or ``t."a", t."b"`` with ``table``."""
        quote = connection.ops.quote_name
        prefix = f"{table}." if table else ""
        return ", ".join(prefix + quote(f.column) for f in self.fields)

    def read(self, rows: Sequence[Sequence[Any]], *, using: str = "default") -> list[Any]:
        """``rows`` as model instances."""
        return [
            self.model.from_db(using, self.names, values)
            for values in self.values(rows, using=using)
        ]

    def values(self, rows: Sequence[Sequence[Any]], *, using: str = "default") -> list[list[Any]]:
        """``rows`` with each value as the model's field holds it."""
        connection = connections[using]
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.model._meta.db_table)
                # What the ORM's compiler applies to a selected column.
                found = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if found:
                    converters.append((index, found, column))
            self._converters[connection.vendor] = converters
        converted = []
        for row in rows:
            values = list(row)
            for index, found, column in converters:
                for convert in found:
                    values[index] = convert(values[index], column, connection)
            converted.append(values)
        return converted
