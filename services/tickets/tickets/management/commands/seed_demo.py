"""``manage.py seed_demo``: the demo desk, seeded once: categories, SLA targets, office
hours, teams, canned responses and three months of history.

The reference data (categories, SLA targets, the office-hours calendar) is checked on
every run. The rest needs the demo people (``demo.DEMO_PEOPLE``), who live in accounts:
tickets knows them only from accounts' ``user.*`` events, applied by ``consume_events``
into the user directory. On the first ``make up`` this command runs before any consumer,
so it seeds the reference data only; ``make up`` then runs it again beside the stack with
``--wait``, which waits for every demo person to reach the directory and writes the
history (``tickets.demo_history``): a few hundred tickets in one transaction, with their
events in the outbox. It is written once: a desk that has any ticket gets none, so later
runs change nothing. It never invents directory rows: ids belong to accounts.

With ``--wait`` it also waits, within the same time, until the events have left the
outbox and every queue of ticket events is empty: reports' dashboard and notifier's
feed have the history when ``make up`` says it is ready.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from kombu.transport.virtual import Transport as VirtualTransport

from servidesk_shared.events import broker
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.topology import SUBSCRIPTIONS, Topology
from servidesk_shared.outbox.models import OutboxMessage
from tickets import demo, demo_history
from tickets.models import DirectoryUser, Role, Ticket

logger = logging.getLogger(__name__)

#: Two readings this far apart, both with nothing left to deliver: the consumers are done
#: (the last messages they fetched are applied within a batch's time).
SETTLE_SECONDS = 1.0


class Command(BaseCommand):
    help = "Seed the demo desk: reference data, teams, and three months of history (once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help=(
                "wait up to this long for the demo people to reach the user directory, "
                "and for the history's events to reach every consumer"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        deadline = started + options["wait"]
        with transaction.atomic():
            categories = demo.ensure_categories()
            targets = demo.ensure_sla_targets()
            office = demo.ensure_office_hours()
        self.stdout.write(f"seed_demo: {categories} categories and {targets} SLA targets added")
        if office:
            self.stdout.write("seed_demo: the default calendar is now office hours")

        people = self.wait_for_people(deadline)
        if people is None:
            self.stdout.write(
                "seed_demo: the demo people are not in the user directory yet (it fills from "
                "accounts' events once consume_events runs); the demo history comes on a "
                "later run (make up runs seed_demo --wait beside the stack)."
            )
            return
        admin = (
            DirectoryUser.objects.filter(role=Role.ADMIN, is_active=True)
            .order_by("username")
            .first()
        )
        with transaction.atomic():
            teams = demo.ensure_teams(people.technicians)
            macros = demo.ensure_macros(admin) if admin is not None else 0
        self.stdout.write(f"seed_demo: {teams} teams and {macros} canned responses added")
        self.write_history(people)
        if options["wait"]:
            self.wait_for_delivery(deadline)
        self.stdout.write(f"seed_demo: done in {time.monotonic() - started:.1f}s")

    def write_history(self, people: demo_history.People) -> None:
        if not settings.DEMO_HISTORY:
            self.stdout.write("seed_demo: DEMO_HISTORY is off; no demo history added")
            return
        if Ticket.objects.exists():
            self.stdout.write("seed_demo: the desk has tickets already; no demo history added")
            return
        started = time.monotonic()
        written = demo_history.history_write(people=people, now=timezone.now())
        statuses = ", ".join(f"{count} {name}" for name, count in sorted(written.by_status.items()))
        self.stdout.write(
            f"seed_demo: {written.tickets} tickets of the last {demo_history.DAYS} days "
            f"({statuses}), {written.comments} comments, {written.breaches} SLA breaches, "
            f"{written.attachments} attachments, {written.mails} mails, {written.events} "
            f"events, in {time.monotonic() - started:.1f}s"
        )

    def wait_for_people(self, deadline: float) -> demo_history.People | None:
        """The active demo technicians and clients once all demo people are in the
        directory; at the deadline, whoever is there (``None`` without a technician and
        a client)."""
        while True:
            users = list(
                DirectoryUser.objects.filter(
                    username__in=demo.DEMO_PEOPLE, is_active=True
                ).order_by("username")
            )
            everyone = len(users) == len(demo.DEMO_PEOPLE)
            if everyone or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        people = demo_history.People(
            technicians=[user for user in users if user.role == Role.TECHNICIAN],
            clients=[user for user in users if user.role == Role.CLIENT],
        )
        if not (people.technicians and people.clients):
            return None
        if not everyone:
            missing = sorted(set(demo.DEMO_PEOPLE) - {user.username for user in users})
            self.stdout.write(f"seed_demo: not in the directory yet: {', '.join(missing)}")
        return people

    def wait_for_delivery(self, deadline: float) -> bool:
        """Until nothing is left to relay or to consume (two readings in a row)."""
        started = time.monotonic()
        quiet = 0
        while quiet < 2:
            left = self.undelivered()
            quiet = quiet + 1 if left == 0 else 0
            if quiet < 2 and time.monotonic() >= deadline:
                self.stdout.write(f"seed_demo: {left} events still on their way at the deadline")
                return False
            if quiet < 2:
                time.sleep(SETTLE_SECONDS if left == 0 else 0.5)
        self.stdout.write(
            f"seed_demo: every consumer has the events ({time.monotonic() - started:.1f}s)"
        )
        return True

    @staticmethod
    def undelivered() -> int:
        """Events in the outbox not yet relayed, else those waiting in the queues of the
        services that consume ticket events (on RabbitMQ, the queues someone consumes:
        one whose service is not running would never empty; the embedded broker cannot
        tell, so all of them)."""
        unsent = OutboxMessage.objects.filter(sent_at__isnull=True).count()
        if unsent:
            return unsent
        topology = Topology(event_settings().prefix)
        waiting = 0
        with broker.connection() as conn:
            knows_consumers = not isinstance(conn.transport, VirtualTransport)
            for queue, patterns in SUBSCRIPTIONS.items():
                if "ticket.#" not in patterns:
                    continue
                channel = conn.channel()
                try:
                    declared = channel.queue_declare(queue=topology.queue_name(queue), passive=True)
                except Exception:  # no such queue yet: nothing waits in it
                    logger.debug("queue %s not declared yet", queue, exc_info=True)
                    continue
                finally:
                    channel.close()
                if declared.consumer_count or not knows_consumers:
                    waiting += declared.message_count
        return waiting
