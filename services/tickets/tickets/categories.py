"""Category slugs by id, kept per process: tickets show their category by slug.

Why: every ticket read joined ``tickets_category`` for the slug alone, and that join was a
third of the cost of reading a ticket in Python (more columns to compile and load, a
``Category`` instance per ticket). The map cannot go stale in a way that matters: a slug
never changes (nothing edits it), a category in use cannot be deleted, and PostgreSQL
never hands out an id twice. An unknown id loads every category (a short, admin-managed
list) in one query; saving or deleting a category in this process starts over, which
also covers databases that can reuse the id of a rolled-back row (SQLite).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from tickets.models import Category

_slugs: dict[int, str] = {}


def slug_of(category_id: int | None) -> str | None:
    """The slug of the category ``category_id`` (``None`` for none)."""
    if category_id is None:
        return None
    slug = _slugs.get(category_id)
    if slug is None:
        _slugs.update(Category.objects.order_by().values_list("id", "slug"))
        slug = _slugs.get(category_id)
    return slug


def forget(**kwargs: Any) -> None:
    _slugs.clear()


def connect() -> None:
    """Called once from ``TicketsConfig.ready``."""
    post_save.connect(forget, sender=Category, dispatch_uid="category-slugs-saved")
    post_delete.connect(forget, sender=Category, dispatch_uid="category-slugs-deleted")
