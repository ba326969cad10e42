"""PostgreSQL-only pieces: the ticket number sequence, unaccent, the GIN search index.

Other databases (SQLite under ``make up`` without configuration) skip all three: numbers
come from ``TicketNumberCounter`` and search falls back to substring matching.
"""

from django.db import migrations

FORWARD = [
    # Trusted since PostgreSQL 13: the database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE SEQUENCE IF NOT EXISTS tickets_ticket_number_seq AS bigint START 1000",
    # Keep the sequence ahead of any number already used (a restore, a re-run).
    "SELECT setval('tickets_ticket_number_seq', "
    "GREATEST((SELECT coalesce(max(number), 0) FROM tickets_ticket), 999))",
    "CREATE INDEX IF NOT EXISTS ticket_search_gin ON tickets_ticket USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS ticket_search_gin",
    "DROP SEQUENCE IF EXISTS tickets_ticket_number_seq",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD), elidable=False)]
