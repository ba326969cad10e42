"""The database cache's table, wherever ``manage.py migrate`` runs.

``createcachetable`` makes the table of every cache in ``CACHES`` that is a database
cache, under its configured name (``LOCATION``), and leaves an existing one alone; with
Redis or a local-memory cache it does nothing. After changing ``CACHE_URL`` to a database
cache of another name, run ``manage.py createcachetable`` once (this migration has run).
"""

from __future__ import annotations

from django.core.management import call_command
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def create_cache_tables(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []

    operations = [
        # Backwards: the table is left (it holds nothing that must go, and another
        # migration state may still use it).
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=True),
    ]
