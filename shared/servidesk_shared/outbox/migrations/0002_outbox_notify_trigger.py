"""PostgreSQL: the outbox table wakes the relays itself, at commit.

A statement trigger on ``INSERT`` sends ``NOTIFY servidesk_outbox`` (the channel of
``servidesk_shared.events.publisher.NOTIFY_CHANNEL``, repeated here as a migration must not
change with the code). PostgreSQL delivers it only when the inserting transaction commits,
and several in one transaction as one; ``publish()`` pays no round trip for it. SQLite has
no NOTIFY: its relays are woken in-process and otherwise poll, so nothing is created there.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = (
    "CREATE FUNCTION servidesk_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM pg_notify('servidesk_outbox', ''); RETURN NULL; END $$",
    "CREATE TRIGGER servidesk_outbox_notify AFTER INSERT ON servidesk_outbox_outboxmessage "
    "FOR EACH STATEMENT EXECUTE FUNCTION servidesk_outbox_notify()",
)
DROP = (
    "DROP TRIGGER IF EXISTS servidesk_outbox_notify ON servidesk_outbox_outboxmessage",
    "DROP FUNCTION IF EXISTS servidesk_outbox_notify()",
)


def run(schema_editor: BaseDatabaseSchemaEditor, statements: tuple[str, ...]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    run(schema_editor, CREATE)


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("servidesk_outbox", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
