"""``manage.py seed_demo``: categories, SLA targets, teams, canned responses and a few
tickets for the demo users.

Idempotent: run it as often as you like (``make up`` runs it on every start).

The demo users live in accounts; tickets only knows them from accounts' ``user.*``
events, applied by ``consume_events`` into the user directory. On the very first
``make up`` this command runs before any consumer, so the directory is still empty: it
then seeds categories and SLA targets, says that the demo tickets come later, and the
next run (the next ``make up``, or ``seed_demo --wait 120`` while the stack is up)
creates them. It never invents directory rows: ids belong to accounts.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from tickets import demo, services
from tickets.actors import Actor
from tickets.models import Category, DirectoryUser, Role, Status, Ticket

DEMO_CLIENTS = 3


class Command(BaseCommand):
    help = "Seed categories, SLA targets and demo tickets for the demo users (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait up to this long for the user directory to hold demo clients",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            categories = demo.ensure_categories()
            targets = demo.ensure_sla_targets()
            office = demo.ensure_office_hours()
        self.stdout.write(f"seed_demo: {categories} categories and {targets} SLA targets added")
        if office:
            self.stdout.write("seed_demo: the default calendar is now office hours")

        clients = self.wait_for_clients(options["wait"])
        if not clients:
            self.stdout.write(
                "seed_demo: no clients in the user directory yet (it fills from accounts' "
                "events once consume_events runs); demo tickets will be added on the next run."
            )
            return
        technicians = list(
            DirectoryUser.objects.filter(role=Role.TECHNICIAN, is_active=True).order_by("username")
        )
        technician = technicians[0] if technicians else None
        admin = (
            DirectoryUser.objects.filter(role=Role.ADMIN, is_active=True)
            .order_by("username")
            .first()
        )
        with transaction.atomic():
            teams = demo.ensure_teams(technicians) if technicians else 0
            macros = demo.ensure_macros(admin) if admin is not None else 0
        self.stdout.write(f"seed_demo: {teams} teams and {macros} canned responses added")
        made = 0
        for client in clients:
            made += self.seed_client(client, technician)
        self.stdout.write(f"seed_demo: {made} demo tickets added")

    def wait_for_clients(self, seconds: float) -> list[DirectoryUser]:
        deadline = time.monotonic() + seconds
        while True:
            clients = list(
                DirectoryUser.objects.filter(role=Role.CLIENT, is_active=True).order_by("username")[
                    :DEMO_CLIENTS
                ]
            )
            if clients or time.monotonic() >= deadline:
                return clients
            time.sleep(1)

    def seed_client(self, client: DirectoryUser, technician: DirectoryUser | None) -> int:
        made = 0
        client_actor = Actor(id=client.pk, role=Role.CLIENT)
        for index, (title, description, slug) in enumerate(demo.DEMO_TICKETS):
            if Ticket.objects.filter(client_id=client.pk, title=title).exists():
                continue
            with transaction.atomic():
                ticket = services.ticket_create(
                    actor=client_actor,
                    title=title,
                    description=description,
                    category=Category.objects.filter(slug=slug).first(),
                    priority=[2, 3, 1][index],
                )
                if technician is not None and index < 2:
                    self.work_on(ticket, technician, resolve=index == 1)
            made += 1
        return made

    @staticmethod
    def work_on(ticket: Ticket, technician: DirectoryUser, *, resolve: bool) -> None:
        actor = Actor(id=technician.pk, role=Role.TECHNICIAN)
        services.ticket_assign(ticket_id=ticket.pk, actor=actor, assignee_id=actor.id)
        services.ticket_change_status(ticket_id=ticket.pk, actor=actor, status=Status.IN_PROGRESS)
        services.comment_create(
            ticket_id=ticket.pk, actor=actor, body="Lo estamos revisando. / We are looking into it."
        )
        services.comment_create(
            ticket_id=ticket.pk, actor=actor, body="Revisar logs del servidor.", internal=True
        )
        if resolve:
            services.ticket_change_status(ticket_id=ticket.pk, actor=actor, status=Status.RESOLVED)
