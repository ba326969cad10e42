"""factory_boy factories for the accounts tests."""

from __future__ import annotations

from typing import Any

import factory

from users.models import Role, User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    full_name = factory.Faker("name")
    role = Role.CLIENT
    language = "es"

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class ClientFactory(UserFactory):
    role = Role.CLIENT


class TechnicianFactory(UserFactory):
    role = Role.TECHNICIAN


class AdminFactory(UserFactory):
    role = Role.ADMIN
