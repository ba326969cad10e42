"""Every raw SQL statement of the tickets service, and why each is not an ORM query.

Most of it is PostgreSQL: callers check ``is_postgresql()`` first and keep their SQLite
fallback (``make up``'s embedded default) at their own edge; the opening read runs on both.
Migrations and the bulk ``COPY`` of ``manage.py seed_tickets`` keep their SQL where they
are.

- Ticket numbers come from the sequence ``tickets_ticket_number_seq`` (migration 0002):
  the ORM has no ``nextval``.
- A new ticket reads its number, the SLA targets of its priority and its client's
  directory entry in one statement (``opening_row``): creating tickets is the service's
  hottest write, and each round trip costs more in Django and psycopg than in the
  database.
- The search document (``tsvector``) is built with ``unaccent`` and weights from the
  ticket and its public comments in one ``UPDATE``, and matched with a prefix
  ``tsquery`` that, for rare words, is fenced (``OFFSET 0``) so that the GIN index finds
  the few matches before the list is ordered: a plan the ORM cannot ask for.
- How common each indexed word is comes from ``pg_stats`` (``word_shares``).

Every value is a parameter; no SQL here is assembled from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from tickets.models import NUMBER_PREFIX

NUMBER_SEQUENCE: Final = "tickets_ticket_number_seq"


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- ticket numbers ----------------------------------------------------------------------


def next_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [NUMBER_SEQUENCE])
        return int(cursor.fetchone()[0])


def next_numbers(count: int) -> list[int]:
    """``count`` numbers from the sequence at once, in increasing order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [NUMBER_SEQUENCE, count])
        return sorted(int(row[0]) for row in cursor.fetchall())


# --- what a new ticket reads before its INSERT --------------------------------------------


class DirectoryEntry(NamedTuple):
    full_name: str
    username: str
    role: str
    is_active: bool


class OpeningRow(NamedTuple):
    number: int
    #: None when the priority has no ``SlaTarget`` row (the team's or the desk's).
    sla_hours: tuple[int, int] | None
    #: None when the directory has no entry for the client.
    client: DirectoryEntry | None


_OPENING_SQL: Final = (
    "SELECT {number}, "
    # The team's target for the priority when it has one, else the desk's.
    "CASE WHEN team_sla.id IS NULL THEN sla.first_response_hours "
    "ELSE team_sla.first_response_hours END, "
    "CASE WHEN team_sla.id IS NULL THEN sla.resolution_hours "
    "ELSE team_sla.resolution_hours END, "
    "u.full_name, u.username, u.role, u.is_active "
    # One row whatever exists: every join is on a unique key.
    "FROM (SELECT 1) AS one "
    "LEFT JOIN tickets_slatarget AS sla ON sla.priority = %s AND sla.team_id IS NULL "
    "LEFT JOIN tickets_slatarget AS team_sla ON team_sla.priority = %s "
    "AND team_sla.team_id = %s "
    "LEFT JOIN tickets_directoryuser AS u ON u.id = %s"
)


def opening_row(
    *, number: tuple[str, list[Any]], priority: int, team_id: int | None, client_id: str
) -> OpeningRow:
    """The next number, the SLA targets of ``priority`` (``team_id``'s, else the desk's)
    and the client, in one statement.

    ``number`` is the SQL expression of the number and its parameters
    (``tickets.numbers.number_expression``): the sequence's ``nextval`` on PostgreSQL, a
    number already taken elsewhere.
    """
    expression, number_params = number
    with connection.cursor() as cursor:
        cursor.execute(
            _OPENING_SQL.format(number=expression),
            [*number_params, priority, priority, team_id, client_id],
        )
        number_value, first, resolution, full_name, username, role, is_active = cursor.fetchone()
    return OpeningRow(
        number=int(number_value),
        sla_hours=None if first is None else (first, resolution),
        client=(
            None if username is None else DirectoryEntry(full_name, username, role, bool(is_active))
        ),
    )


# --- search documents ---------------------------------------------------------------------

# The text configuration is spelled out in the SQL ('simple'), never interpolated; see
# ``tickets.search`` for why ``simple`` over ``unaccent``.
_DOCUMENT_SQL: Final = """
    UPDATE tickets_ticket AS t SET search_vector =
    setweight(to_tsvector('simple', unaccent(%(prefix)s || t.number::text || ' ' || t.title)),
              'A')
    || setweight(to_tsvector('simple', unaccent(t.description)), 'B')
    || setweight(to_tsvector('simple', unaccent(coalesce((
        SELECT string_agg(c.body, ' ' ORDER BY c.id) FROM tickets_comment c
        WHERE c.ticket_id = t.id AND NOT c.internal), ''))), 'C')
"""
_REFRESH_DOCUMENT_SQL: Final = _DOCUMENT_SQL + "WHERE t.id = %(id)s"
_REFRESH_DOCUMENTS_SQL: Final = _DOCUMENT_SQL + "WHERE t.id = ANY(%(ids)s)"
_NEW_TICKET_SQL: Final = (
    "setweight(to_tsvector('simple', unaccent(%s)), 'A') "
    "|| setweight(to_tsvector('simple', unaccent(%s)), 'B')"
)
_APPEND_COMMENT_SQL: Final = (
    "UPDATE tickets_ticket SET search_vector = coalesce(search_vector, ''::tsvector) "
    "|| setweight(to_tsvector('simple', unaccent(%s)), 'C') WHERE id = %s"
)


def refresh_document(ticket_id: int) -> None:
    """Rebuild one ticket's search document from its fields and public comments."""
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_DOCUMENT_SQL, {"prefix": NUMBER_PREFIX, "id": ticket_id})


def refresh_documents(ticket_ids: Sequence[int]) -> None:
    """``refresh_document`` for many tickets in one statement (bulk loads: the demo desk)."""
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_DOCUMENTS_SQL, {"prefix": NUMBER_PREFIX, "ids": list(ticket_ids)})


def new_ticket_document(*, number: int, title: str, description: str) -> RawSQL:
    """The document of a ticket being inserted, as an expression for its INSERT (it has no
    comments yet)."""
    return RawSQL(_NEW_TICKET_SQL, [f"{NUMBER_PREFIX}{number} {title}", description])  # noqa: S611 (constant SQL, values are parameters)


def append_comment(ticket_id: int, body: str) -> None:
    """Add a public comment to a ticket's document (one ``UPDATE``, no re-reading)."""
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_COMMENT_SQL, [body, ticket_id])


# --- search matches -------------------------------------------------------------------

# The query arrives folded (``tickets.search.fold``), not through unaccent() here:
# unaccent is only STABLE, so the planner could not see the tsquery and would guess its
# selectivity; with a constant it reads the column statistics and picks the GIN index for
# rare words instead of walking the whole created_at index (which reads every row for a
# word that matches nothing).
_MATCH_SQL: Final = "tickets_ticket.search_vector @@ to_tsquery('simple'::regconfig, %s)"
# The same match, fenced (OFFSET 0 keeps PostgreSQL from flattening the subquery): the
# GIN index finds the few matching ids first, then the list is ordered and cut.
_RARE_MATCH_SQL: Final = (
    "tickets_ticket.id IN (SELECT m.id FROM tickets_ticket m "
    "WHERE m.search_vector @@ to_tsquery('simple'::regconfig, %s) OFFSET 0)"
)


def matches(tsquery: str, *, rare: bool) -> RawSQL:
    """A condition on ``tickets_ticket``: its document matches ``tsquery``; ``rare`` when
    few tickets will (the GIN index first, see ``tickets.search.is_rare``)."""
    return RawSQL(  # noqa: S611 (constant SQL, the query text is a parameter)
        _RARE_MATCH_SQL if rare else _MATCH_SQL, [tsquery], output_field=BooleanField()
    )


_STATS_SQL: Final = (
    "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
    "WHERE schemaname = current_schema() AND tablename = 'tickets_ticket' "
    "AND attname = 'search_vector'"
)


def word_shares() -> dict[str, float]:
    """The share of tickets each of the most common indexed words is in, from the
    column's statistics; empty until ``ANALYZE`` has seen the table."""
    with connection.cursor() as cursor:
        cursor.execute(_STATS_SQL)
        row = cursor.fetchone()
    return dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
