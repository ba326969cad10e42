"""Django's database cache with an ``incr`` that counts exactly across processes.

Django's own ``DatabaseCache.incr`` is ``BaseCache.incr``: read the value, add, write it
back. Two replicas counting one failed sign-in each at the same moment can both read 4
and both write 5, and the second failure is lost: an attacker who sends tries in
parallel would get more than the limit. Here the row is locked (``SELECT ... FOR
UPDATE``) before it is read, inside one transaction, so the next ``incr`` of that key
waits for this one to commit and reads its result. The key keeps its expiry, as it does
in Redis and in the local-memory cache (``BaseCache.incr`` resets it to the default).

    CACHES = {"default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache",
                          "LOCATION": "servidesk_cache"}}

``servidesk_shared.settings.cache_config`` puts it in place of Django's for
``dbcache://`` URLs. Everything else (get, set, add, touch, culling) is Django's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, models, router, transaction
from django.utils import timezone


class DatabaseCache(DjangoDatabaseCache):
    """``DatabaseCache`` whose ``incr`` and ``decr`` are atomic (see the module)."""

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote_name = connection.ops.quote_name
        table = quote_name(self.cache_model_class._meta.db_table)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cache_key = self.make_and_validate_key(key, version=version)
        with transaction.atomic(using=db):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {quote_name('expires')} FROM {table} "  # noqa: S608 (quoted names)
                    f"WHERE {quote_name('cache_key')} = %s{lock}",
                    [cache_key],
                )
                row = cursor.fetchone()
            # The row is ours until the block ends: nobody else's incr reads or writes it.
            value = self.get(key, version=version) if row is not None else None
            if value is None:
                raise ValueError(f"Key '{key}' not found")
            new_value = value + delta
            self.set(key, new_value, timeout=self._seconds_left(row[0], db), version=version)
        return new_value

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        return await sync_to_async(self.incr, thread_sensitive=True)(key, delta, version)

    def _seconds_left(self, expires: Any, db: str) -> float | None:
        """The timeout that keeps the row's expiry (``None``: it never expires)."""
        connection = connections[db]
        expression = models.Expression(output_field=models.DateTimeField())
        converters = [
            *connection.ops.get_db_converters(expression),
            *expression.get_db_converters(connection),
        ]
        for converter in converters:
            expires = converter(expires, expression, connection)
        if expires.year == dt.MAXYEAR:  # what Django stores for timeout=None
            return None
        now = timezone.now() if timezone.is_aware(expires) else dt.datetime.now()  # noqa: DTZ005
        left: float = (expires - now).total_seconds()
        return max(1.0, left)
