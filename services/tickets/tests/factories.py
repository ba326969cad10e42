"""factory_boy factories for the tickets domain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone
from tickets.models import (
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Priority,
    Role,
    Status,
    Ticket,
)


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryUser
        django_get_or_create = ("id",)

    id = factory.Sequence(lambda n: str(5000 + n))
    username = factory.LazyAttribute(lambda user: f"user{user.id}")
    full_name = factory.Faker("name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    role = Role.CLIENT
    is_active = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda category: category.slug.replace("-", " ").title())


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket written straight to the table (no events); use services for behaviour."""

    class Meta:
        model = Ticket

    number = factory.Sequence(lambda n: 100_000 + n)
    title = factory.Faker("sentence", nb_words=5)
    description = factory.Faker("paragraph")
    status = Status.PENDING
    priority = Priority.MEDIUM
    client_id = "1"
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda ticket: ticket.created_at)
    first_response_due = factory.LazyAttribute(lambda t: t.created_at + timedelta(hours=8))
    resolution_due = factory.LazyAttribute(lambda t: t.created_at + timedelta(hours=72))

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: Any, **kwargs: Any) -> Ticket:
        from tickets import search  # noqa: PLC0415

        ticket = super()._create(model_class, *args, **kwargs)
        search.refresh_search_vector(ticket.pk)
        return ticket


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author_id = "1"
    body = factory.Faker("sentence")
    internal = False


class HistoryEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HistoryEntry

    ticket = factory.SubFactory(TicketFactory)
    actor_id = "1"
    field = "status"
    from_value = Status.PENDING
    to_value = Status.IN_PROGRESS
