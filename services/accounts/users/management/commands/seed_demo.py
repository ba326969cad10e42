"""``manage.py seed_demo``: the demo users of a local Servidesk, created once.

Creates an admin, two technicians and three clients with the passwords documented in
services/accounts/README.md, through the same service as the API (so the other services
hear of them through ``user.registered``), with email and phone already confirmed. Beside
them, the other people of the demo desk's three months of history (``HISTORY_USERS``:
two more technicians and a dozen clients, whose tickets tickets' ``seed_demo`` writes):
they have no password (nobody signs in as them) and email notifications off (their
addresses are made up). Users that already exist are left as they are, so running it
again changes nothing. It refuses to run with DEBUG off unless ``--force``: known
passwords have no place in a real deployment.
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

#: The rest of the demo desk (tickets' ``tickets.demo.DEMO_PEOPLE`` names them too): no
#: password, no mail. (The password field is unused for them.)
HISTORY_USERS = (
    DemoUser("tecnico3", "", Role.TECHNICIAN, "Sofía Navarro"),
    DemoUser("tecnico4", "", Role.TECHNICIAN, "Javier Romero", language="en"),
    DemoUser("pablo.garcia", "", Role.CLIENT, "Pablo García"),
    DemoUser("laura.fernandez", "", Role.CLIENT, "Laura Fernández"),
    DemoUser("sergio.moreno", "", Role.CLIENT, "Sergio Moreno"),
    DemoUser("elena.jimenez", "", Role.CLIENT, "Elena Jiménez"),
    DemoUser("david.alonso", "", Role.CLIENT, "David Alonso"),
    DemoUser("marta.gil", "", Role.CLIENT, "Marta Gil"),
    DemoUser("emma.wilson", "", Role.CLIENT, "Emma Wilson", language="en"),
    DemoUser("raul.castro", "", Role.CLIENT, "Raúl Castro"),
    DemoUser("isabel.vega", "", Role.CLIENT, "Isabel Vega"),
    DemoUser("tom.baker", "", Role.CLIENT, "Tom Baker", language="en"),
    DemoUser("nuria.serrano", "", Role.CLIENT, "Nuria Serrano"),
    DemoUser("alberto.molina", "", Role.CLIENT, "Alberto Molina"),
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
        with transaction.atomic():
            existing = set(
                User.objects.filter(
                    username__in=[demo.username for demo in (*DEMO_USERS, *HISTORY_USERS)]
                ).values_list("username", flat=True)
            )
            created = sum(
                self.create(demo, signs_in=True)
                for demo in DEMO_USERS
                if demo.username not in existing
            )
            history = sum(
                self.create(demo, signs_in=False)
                for demo in HISTORY_USERS
                if demo.username not in existing
            )
        self.stdout.write(f"Servidesk demo users ({created} created now):")
        self.stdout.write(f"  {'role':<11} {'username':<10} {'password':<20} email")
        for demo in DEMO_USERS:
            self.stdout.write(
                f"  {demo.role:<11} {demo.username:<10} {demo.password:<20} {demo.email}"
            )
        self.stdout.write(
            "  (sign in with the username or the email; passwords changed since stay changed)"
        )
        self.stdout.write(
            f"  and {len(HISTORY_USERS)} more people of the demo desk's history "
            f"({history} created now; they have no password)"
        )

    @staticmethod
    def create(demo: DemoUser, *, signs_in: bool) -> bool:
        services.user_create(
            username=demo.username,
            email=demo.email,
            # Hashing a password is slow on purpose: only the documented users get one.
            password=demo.password if signs_in else None,
            role=demo.role,
            full_name=demo.full_name,
            language=demo.language,
            phone=demo.phone,
            notify_email=signs_in,
            notify_sms=bool(demo.phone),
            email_verified=True,
            phone_verified=True,  # demo numbers cannot receive a code
        )
        return True
