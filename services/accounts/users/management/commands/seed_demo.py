"""``manage.py seed_demo``: the demo users of a local Servidesk, created once.

Creates an admin, two technicians and three clients with the passwords documented in
services/accounts/README.md, through the same service as the API (so the other services
hear of them through ``user.registered``), with email and phone already confirmed. Users
that already exist are left as they are, so running it again changes nothing. It refuses
to run with DEBUG off unless ``--force``: known passwords have no place in a real
deployment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from users import services
from users.models import Role, User


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    full_name: str
    language: str = "es"
    phone: str = ""

    @property
    def email(self) -> str:
        return f"{self.username}@servidesk.example"


DEMO_USERS = (
    DemoUser("admin", "Mesa-de-ayuda-A1", Role.ADMIN, "Ana Administradora"),
    DemoUser("tecnico1", "Mesa-de-ayuda-T1", Role.TECHNICIAN, "Lucía Martín", phone="+34600000101"),
    DemoUser("tecnico2", "Mesa-de-ayuda-T2", Role.TECHNICIAN, "Diego Ortega", language="en"),
    DemoUser("cliente1", "Mesa-de-ayuda-C1", Role.CLIENT, "María López", phone="+34600000201"),
    DemoUser("cliente2", "Mesa-de-ayuda-C2", Role.CLIENT, "John Smith", language="en"),
    DemoUser("cliente3", "Mesa-de-ayuda-C3", Role.CLIENT, "Carmen Ruiz"),
)


class Command(BaseCommand):
    help = "Create the demo admin, technicians and clients (once) and print their passwords."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # SERVIDESK_SEED_DEMO=true is the explicit opt-in of a demo deployment (compose).
        opted_in = os.environ.get("SERVIDESK_SEED_DEMO", "").lower() in {"1", "true", "yes"}
        if not settings.DEBUG and not options["force"] and not opted_in:
            self.stderr.write(
                "seed_demo: DEBUG is off, not creating demo users (--force to insist)."
            )
            return
        created = 0
        with transaction.atomic():
            for demo in DEMO_USERS:
                if User.objects.filter(username=demo.username).exists():
                    continue
                services.user_create(
                    username=demo.username,
                    email=demo.email,
                    password=demo.password,
                    role=demo.role,
                    full_name=demo.full_name,
                    language=demo.language,
                    phone=demo.phone,
                    notify_sms=bool(demo.phone),
                    email_verified=True,
                    phone_verified=True,  # demo numbers cannot receive a code
                )
                created += 1
        self.stdout.write(f"Servidesk demo users ({created} created now):")
        self.stdout.write(f"  {'role':<11} {'username':<10} {'password':<20} email")
        for demo in DEMO_USERS:
            self.stdout.write(
                f"  {demo.role:<11} {demo.username:<10} {demo.password:<20} {demo.email}"
            )
        self.stdout.write(
            "  (sign in with the username or the email; passwords changed since stay changed)"
        )
