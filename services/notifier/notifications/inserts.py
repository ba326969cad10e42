"""Multi-row ``INSERT ... ON CONFLICT DO NOTHING`` for the consumer's hot path.

``bulk_create(ignore_conflicts=True)`` writes the same rows in one statement too, but the
ORM's compiler and, on PostgreSQL, its ``UNNEST`` arrays (dumped in Python) cost more
CPU per event than the database takes to run it. Here the statement is built once per
row count; each call only prepares the values that need the backend's form (UUIDs,
timestamps, JSON) and sends them. Plain SQL that PostgreSQL and SQLite both accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

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
