"""Full-text search over number, title, description and public comments.

PostgreSQL: ``Ticket.search_vector`` (a ``tsvector`` with a GIN index) holds the number
and title (weight A), the description (B) and the public comments (C). It is rewritten by
the service functions that change any of them, in the same transaction, with one
``UPDATE`` (``refresh_search_vector``). Internal comments are never indexed, so a client's
search can never match on a note they cannot read.

The text configuration is ``simple`` over ``unaccent``: no stemming, no stop words,
accents folded. Tickets arrive in Spanish and in English, often mixed in one thread, and
a language-specific configuration picked per ticket would stem a Spanish ticket's English
error message wrongly (and the other way round). To get back most of what stemming gives,
every query term is a prefix match (``impresora`` finds ``impresoras``, ``print`` finds
``printer``), and ``unaccent`` on both sides lets ``telefono`` find ``teléfono``.

The statements themselves are in ``tickets.sql``. Other databases (SQLite under
``make up`` without configuration) fall back to case-insensitive substring matching on
the same fields.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from typing import Any, Final

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from tickets import sql
from tickets.models import NUMBER_PREFIX, Comment, Ticket

#: Terms beyond this are ignored: a query is a few words, not a document.
MAX_TERMS: Final = 8
_TERM = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(rf"^\s*(?:{NUMBER_PREFIX})?(\d{{1,18}})\s*$", re.IGNORECASE)
#: A query whose rarest word is in fewer than this share of tickets takes the GIN path.
RARE_SHARE: Final = 0.02
STATS_TTL_SECONDS: Final = 600.0


def is_postgresql() -> bool:
    return sql.is_postgresql()


def refresh_search_vector(ticket_id: int) -> None:
    """Rebuild one ticket's search document (one ``UPDATE``); a no-op off PostgreSQL."""
    if is_postgresql():
        sql.refresh_document(ticket_id)


def refresh_search_vectors(ticket_ids: Sequence[int]) -> None:
    """``refresh_search_vector`` for many tickets in one ``UPDATE``; a no-op off PostgreSQL."""
    if is_postgresql():
        sql.refresh_documents(ticket_ids)


def new_ticket_document(*, number: int, title: str, description: str) -> RawSQL | None:
    """The search document of a ticket being inserted, as an expression for the INSERT."""
    if not is_postgresql():
        return None
    return sql.new_ticket_document(number=number, title=title, description=description)


def append_comment(ticket_id: int, body: str) -> None:
    """Add a public comment to a ticket's search document (one ``UPDATE``)."""
    if is_postgresql():
        sql.append_comment(ticket_id, body)


def fold(text: str) -> str:
    """Lower case without accents, as ``unaccent`` does on the indexed side."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(q: str) -> list[str]:
    return _TERM.findall(fold(q))[:MAX_TERMS]


class _WordStats:
    """How common each indexed word is, from PostgreSQL's own statistics (``pg_stats``).

    Why: ``ORDER BY created_at DESC LIMIT 25`` with a text match has two good plans.
    For a common word, walk the ``created_at`` index and stop at the 25th match (cheap);
    for a rare one, ask the GIN index for the few matches first. The
    planner cannot tell them apart for prefix queries (it assumes 0.5% of rows match any
    prefix) and walks the index for every query, which reads the whole table when the
    word is rare or missing. The column's most-common-elements list says which case we
    are in: a word absent from it, or present with a small share, is rare.
    """

    def __init__(self) -> None:
        self.loaded_at = -STATS_TTL_SECONDS
        self.shares: dict[str, float] = {}

    def get(self) -> dict[str, float]:
        now = time.monotonic()
        if now - self.loaded_at >= STATS_TTL_SECONDS:
            self.shares = sql.word_shares()
            self.loaded_at = now
        return self.shares


_word_stats = _WordStats()


def is_rare(words: list[str]) -> bool:
    """Whether the rarest of ``words`` (each a prefix) is in few tickets, by the statistics."""
    shares = _word_stats.get()
    if not shares:
        return True  # never analyzed: a small table, where either plan is cheap

    def share(prefix: str) -> float:
        return sum(value for word, value in shares.items() if word.startswith(prefix))

    return min(share(word) for word in words) < RARE_SHARE


def ticket_number(q: str) -> int | None:
    """``SD-1042`` or ``1042`` as a number, else ``None``."""
    match = _NUMBER.match(q)
    return int(match.group(1)) if match else None


def search(queryset: QuerySet[Ticket], q: str) -> QuerySet[Ticket]:
    """``queryset`` narrowed to tickets matching ``q`` (an exact ticket number always matches)."""
    words = terms(q)
    number = ticket_number(q)
    by_number = Q(number=number) if number is not None else Q(pk__in=[])
    if not words:
        return queryset.filter(by_number)
    if is_postgresql():
        # Terms are \w+ only, so they cannot carry tsquery operators; each is a prefix.
        tsquery = " & ".join(f"{word}:*" for word in words)
        return queryset.filter(Q(sql.matches(tsquery, rare=is_rare(words))) | by_number)
    # Substrings as typed (lower case, accents kept): there is nothing to fold them
    # against on this side, and "teléfono" must still find "Teléfono".
    condition: Any = Q()  # Q & Exists is a Combinable, not a Q, to the type checker
    for word in _TERM.findall(q.lower())[:MAX_TERMS]:
        public_comment = Comment.objects.filter(
            ticket=OuterRef("pk"), internal=False, body__icontains=word
        )
        condition &= (
            Q(title__icontains=word) | Q(description__icontains=word) | Exists(public_comment)
        )
    return queryset.filter(condition | by_number)
