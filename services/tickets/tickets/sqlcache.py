"""Querysets whose SQL is compiled once per process and run again with new values.

Django compiles a queryset to SQL each time it runs it. For the API's hottest reads, a
ticket's detail and the first pages of the ticket list, that is a sizeable share of the
request's CPU, although their SQL never changes shape: only a few values do (the
ticket id, the client id, the cursor). ``run`` builds such a queryset once with marker
values, keeps its SQL and the positions of the markers among the parameters, and later
runs that SQL with the real values. Its rows become the same model instances the ORM
gives (annotations and deferred fields included): set up directly when the query is
plain (``_plain_attnames``), else through ``Model.objects.raw``.

``build`` must use each value only in plain comparisons (``=``, ``<``...): a shape
where a value does not come out as a parameter of its own (a lookup that transforms it)
is never cached and runs through the ORM every time, and so does a call with a ``None``
among its values (it may change the SQL: ``IS NULL``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet, signals
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    db: str
    sql: str
    #: The attribute each selected column sets, when rows can be turned into instances
    #: directly (``_instances``); None to go through ``Model.objects.raw``.
    attnames: tuple[str, ...] | None
    #: For each parameter of ``sql``: ``(True, name)`` for a value given to ``run``, else
    #: ``(False, constant)``.
    params: tuple[tuple[bool, Any], ...]


_NOT_CACHEABLE: Final = object()
_cache: dict[Hashable, _Compiled | object] = {}


def _markers(values: dict[str, Any], variant: int) -> dict[str, Any]:
    """Values of the same types as ``values`` that no real query would use.

    Integers stay small (a ``PositiveSmallIntegerField`` refuses anything over 32767):
    a constant of the query could equal one, which is why ``_compile`` builds the query
    twice with two sets of markers and keeps the positions where both show.
    """
    markers: dict[str, Any] = {}
    for n, (name, value) in enumerate(values.items()):
        if isinstance(value, bool):
            raise TypeError("booleans change a query's shape: give them in the key")
        if isinstance(value, int):
            markers[name] = 29_000 + 1_000 * variant + n
        elif isinstance(value, str):
            markers[name] = f"\x00sqlcache-{variant}-{n}"
        elif isinstance(value, datetime):
            markers[name] = datetime(1990 + variant, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
        else:
            raise TypeError(f"no marker for {type(value).__name__}")
    return markers


def _compile(build: Callable[..., QuerySet[M]], values: dict[str, Any]) -> _Compiled | object:
    compiled = []
    for variant in (1, 2):
        markers = _markers(values, variant)
        queryset = build(**markers)
        compiler = queryset.query.get_compiler(queryset.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _NOT_CACHEABLE
        compiled.append((markers, sql, tuple(params)))
    (first, sql, params), (second, sql_again, params_again) = compiled
    if sql != sql_again or len(params) != len(params_again):
        return _NOT_CACHEABLE
    slots: list[tuple[bool, Any]] = []
    found = dict.fromkeys(values, False)
    for one, other in zip(params, params_again, strict=True):
        if one == other:
            slots.append((False, one))
            continue
        names = [name for name in values if first[name] == one and second[name] == other]
        if len(names) != 1:
            return _NOT_CACHEABLE  # a value transformed into another (``%value%``)
        found[names[0]] = True
        slots.append((True, names[0]))
    if not all(found.values()):
        return _NOT_CACHEABLE
    return _Compiled(
        model=queryset.model,
        db=queryset.db,
        sql=sql,
        attnames=_plain_attnames(compiler),
        params=tuple(slots),
    )


def _plain_attnames(compiler: Any) -> tuple[str, ...] | None:
    """What each column of a plain query sets on the instance, else None.

    Plain: columns of the model itself and annotations, no related models, no value
    converters (the database driver's values are the instance's), nobody listening to
    ``pre_init`` or ``post_init``: what ``Model.from_db`` would do then is setting
    attributes, so ``_instances`` does just that without the per-row machinery.
    """
    model = compiler.query.model
    if compiler.klass_info is None or compiler.klass_info.get("related_klass_infos"):
        return None
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return None
    if compiler.get_converters([column for column, _, _ in compiler.select]):
        return None
    names = []
    for column, _, alias in compiler.select:
        target = getattr(column, "target", None)
        if alias is None and target is not None and target.model is model:
            names.append(target.attname)
        elif alias is not None and target is None:
            names.append(alias)
        else:
            return None
    return tuple(names) if len(set(names)) == len(names) else None


def _instances(compiled: _Compiled, params: list[Any]) -> list[Any]:
    """The rows of ``compiled`` as model instances, set up as ``Model.from_db`` would."""
    assert compiled.attnames is not None  # noqa: S101 (only called for plain queries)
    model, names, db = compiled.model, compiled.attnames, compiled.db
    with connections[db].cursor() as cursor:
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        instance = model.__new__(model)
        instance.__dict__.update(zip(names, row, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = db
        instances.append(instance)
    return instances


def run(key: Hashable, build: Callable[..., QuerySet[M]], **values: Any) -> Iterable[M]:
    """The rows of ``build(**values)``, with its SQL compiled once for ``key``.

    ``key`` must name everything that changes the SQL's shape (who is asking, the
    ordering, the page size...); ``values`` are what only changes the parameters.
    """
    if any(value is None for value in values.values()):
        return build(**values)
    compiled = _cache.get(key)
    if compiled is None:
        compiled = _compile(build, values)
        _cache[key] = compiled
    if not isinstance(compiled, _Compiled):
        return build(**values)
    params = [values[item] if is_value else item for is_value, item in compiled.params]
    if compiled.attnames is not None:
        return _instances(compiled, params)
    return compiled.model._default_manager.raw(compiled.sql, params)  # type: ignore[return-value]
