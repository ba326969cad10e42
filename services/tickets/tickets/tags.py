"""Tags: free-form staff labels, one normalised spelling each.

A tag is trimmed, its inner runs of white space made one space, and lower-cased
(``casefold`` would turn "ß" into "ss": ``lower`` keeps every letter, accents included,
so "Facturación" and "facturación" are one tag and "facturacion" another). Tickets hold
them through ``Ticket.tags``; clients never see them (the serializer and the events'
consumers keep them from clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from tickets.models import TAG_MAX_LENGTH, Tag, Ticket

#: At most this many tags on one ticket, and in one request.
MAX_TAGS_PER_TICKET: Final = 20
#: At most this many suggestions answer an autocomplete request.
SUGGESTION_LIMIT: Final = 20


class TagError(ValueError):
    """A tag that cannot be stored; the message says why (shown to the user)."""


def normalise(text: str) -> str:
    """The one spelling of a tag: trimmed, single-spaced, lower case, accents kept."""
    return " ".join(text.split()).lower()


def clean(names: Iterable[str]) -> list[str]:
    """``names`` normalised, without blanks or repeats, in the order given; ``TagError``
    for a tag too long, one with a control character, or too many of them."""
    cleaned: list[str] = []
    for raw in names:
        name = normalise(raw)
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise TagError(
                _("A tag can have at most %(limit)d characters.") % {"limit": TAG_MAX_LENGTH}
            )
        if any(not character.isprintable() for character in name):
            raise TagError(_("A tag cannot contain control characters."))
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS_PER_TICKET:
        raise TagError(
            _("A ticket can have at most %(limit)d tags.") % {"limit": MAX_TAGS_PER_TICKET}
        )
    return cleaned


def get_or_create(names: Sequence[str]) -> list[Tag]:
    """The ``Tag`` rows of already-clean ``names``, creating the missing ones (safe when
    two requests create the same new tag at once: the unique name decides). One query
    when every tag exists, as it mostly does."""
    if not names:
        return []
    by_name = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [name for name in names if name not in by_name]
    if missing:
        Tag.objects.bulk_create([Tag(name=name) for name in missing], ignore_conflicts=True)
        by_name |= {tag.name: tag for tag in Tag.objects.filter(name__in=missing)}
    return [by_name[name] for name in names]


def names_by_ticket(ticket_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each ticket's tags, sorted, in one query of (ticket id, tag name) pairs; a ticket
    without tags maps to ``[]``."""
    names: dict[int, list[str]] = {ticket_id: [] for ticket_id in ticket_ids}
    pairs = (
        Ticket.tags.through.objects.filter(ticket_id__in=ticket_ids)
        .order_by("tag__name")
        .values_list("ticket_id", "tag__name")
    )
    for ticket_id, name in pairs:
        names[ticket_id].append(name)
    return names


def tag_names(ticket: Ticket) -> list[str]:
    """The ticket's tags, sorted: as the last write set them (``ticket.tag_names``), else
    from the ``tags`` prefetch of the read that fetched it, else one small query."""
    names = getattr(ticket, "tag_names", None)
    if names is None:
        names = sorted(tag.name for tag in ticket.tags.all()) if ticket.pk else []
        ticket.tag_names = names  # type: ignore[attr-defined]
    return list(names)


def set_tags(ticket: Ticket, names: Sequence[str]) -> None:
    """Make ``names`` (already clean) the ticket's tags: adds and removes only the
    difference with what it has (``tag_names``), without reading its links again."""
    current = set(tag_names(ticket))
    added = [name for name in names if name not in current]
    removed = current - set(names)
    if added:
        ticket.tags.add(*get_or_create(added))
    if removed:
        ticket.tags.remove(*Tag.objects.filter(name__in=removed))
    ticket.tag_names = sorted(names)  # type: ignore[attr-defined]


def ids_for(names: Iterable[str]) -> list[int] | None:
    """The ids of tags named ``names`` (normalised here); ``None`` when one does not exist
    (so a filter on it matches nothing, without a query per ticket)."""
    wanted = {normalise(name) for name in names} - {""}
    found = dict(Tag.objects.filter(name__in=wanted).values_list("name", "id"))
    if len(found) < len(wanted):
        return None
    return sorted(found.values())


def suggestions(*, prefix: str) -> QuerySet[Tag]:
    """Tags starting with ``prefix`` (normalised), the most used first: autocomplete."""
    tags = Tag.objects.all()
    text = normalise(prefix)
    if text:
        tags = tags.filter(name__startswith=text)
    return tags.annotate(ticket_count=Count("tickets")).order_by("-ticket_count", "name")[
        :SUGGESTION_LIMIT
    ]
