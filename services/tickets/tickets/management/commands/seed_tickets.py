"""``manage.py seed_tickets --count N``: a large, realistic data set, fast, for benchmarks.

PostgreSQL: each batch is streamed with ``COPY`` into a temporary table, then moved into
the real tables with one ``INSERT ... SELECT`` that also computes the search documents,
plus one for the first public reply and one for the creation history entry, so a
million tickets load in one sitting. Other databases get ``bulk_create`` (small counts).

It writes no outbox events: this is data for benchmarks and demos, not activity that
notifier or reports should react to. Synthetic clients and technicians (ids
``seed-c-<n>`` / ``seed-t-<n>``) are added to the user directory so names and
assignment checks work; sign tokens with those ids to act as them.
"""

from __future__ import annotations

import io
import random
import sys
import time
from datetime import datetime, timedelta
from typing import Any, Final

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from tickets import demo, numbers, search
from tickets import sla as sla_clock
from tickets.models import (
    DEFAULT_SLA_HOURS,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Priority,
    Role,
    SlaTarget,
    Status,
    Ticket,
)

SUBJECTS: Final = (
    "La impresora",
    "El portátil",
    "Outlook",
    "La VPN",
    "El Wi-Fi",
    "El teléfono",
    "The printer",
    "My laptop",
    "Teams",
    "The VPN",
    "The shared drive",
    "Excel",
    "SAP",
    "El monitor",
    "La cuenta de correo",
    "My password",
    "The badge reader",
    "Zoom",
)
PROBLEMS: Final = (
    "no funciona",
    "va muy lento",
    "da error al iniciar",
    "no conecta",
    "se reinicia solo",
    "is not working",
    "is very slow",
    "crashes on start",
    "won't connect",
    "keeps freezing",
    "asks for the password again",
    "no imprime en color",
    "shows a blue screen",
)
SENTENCES: Final = (
    "Desde esta mañana no puedo trabajar con normalidad.",
    "Ya he reiniciado el equipo y sigue igual.",
    "Aparece el mensaje de error 0x80070005 al abrirlo.",
    "It started after yesterday's update.",
    "I already tried restarting, it did not help.",
    "Several people on the third floor have the same problem.",
    "Es urgente porque tengo una reunión con un cliente.",
    "The error says 'access denied' when I open the folder.",
    "Adjunto captura de pantalla del problema.",
    "It only happens when I am connected through the VPN.",
)
REPLIES: Final = (
    "Lo estamos revisando, te avisamos en breve.",
    "We have reset your profile, please try again.",
    "Hemos reinstalado el controlador de la impresora.",
    "Please restart the laptop while connected to the office network.",
    "Se ha ampliado la cuota del buzón.",
)
STATUS_WEIGHTS: Final = ((Status.PENDING, 30), (Status.IN_PROGRESS, 25), (Status.RESOLVED, 45))
PRIORITY_WEIGHTS: Final = (
    (Priority.LOW, 30),
    (Priority.MEDIUM, 45),
    (Priority.HIGH, 18),
    (Priority.URGENT, 7),
)
COLUMNS: Final = (
    "number",
    "title",
    "description",
    "status",
    "priority",
    "category_id",
    "client_id",
    "assignee_id",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "first_response_due",
    "resolution_due",
    "closed_at",
    "first_response_stage",
    "resolution_stage",
    "next_check_at",
    "version",
    "reply_body",
    "reply_author",
)


def seeded_clocks(
    *,
    status: str,
    created: datetime,
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    first_due: datetime,
    resolution_due: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The SLA fields of a seeded ticket (wall-clock targets, as the default calendar is
    open around the clock): what passed counts as already announced, so a first
    ``watch_sla`` has only what is still to come; ``next_check_at`` is the next of it."""
    upcoming: list[datetime] = []
    stages = {"first_response_stage": 0, "resolution_stage": 0}
    running = {
        "first_response_stage": (
            first_response_at is None and status in (Status.PENDING, Status.IN_PROGRESS),
            created,
            first_due,
        ),
        "resolution_stage": (
            status in (Status.PENDING, Status.IN_PROGRESS),
            created,
            resolution_due,
        ),
    }
    for stage, (is_running, start, due) in running.items():
        if not is_running:
            continue
        warn = start + (due - start) * sla_clock.WARNING_SHARE
        if due <= now:
            stages[stage] = sla_clock.BREACHED
        elif warn <= now:
            stages[stage] = sla_clock.WARNED
            upcoming.append(due)
        else:
            upcoming.append(warn)
    if status == Status.RESOLVED and resolved_at is not None:
        upcoming.append(sla_clock.auto_close_at(resolved_at))
    return {**stages, "next_check_at": min(upcoming) if upcoming else None}


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, *, width: int = 30) -> None:
        self.total, self.width, self.started = total, width, time.monotonic()

    def show(self, done: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed else 0.0
        filled = int(self.width * done / self.total) if self.total else self.width
        remaining = (self.total - done) / rate if rate else 0.0
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{self.total:,} "
            f"{rate:,.0f}/s, {remaining:,.0f}s left "
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


class Command(BaseCommand):
    help = "Bulk-insert N realistic tickets (COPY on PostgreSQL) for benchmarks and demos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="tickets to add")
        parser.add_argument("--batch-size", type=int, default=20_000)
        parser.add_argument("--clients", type=int, default=0, help="default: count / 200")
        parser.add_argument("--technicians", type=int, default=25)
        parser.add_argument("--days", type=int, default=365, help="spread over this many days")
        parser.add_argument("--seed", type=int, default=1, help="random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if count < 1:
            raise CommandError("--count must be at least 1.")
        rng = random.Random(options["seed"])  # noqa: S311 (not for security)
        clients = self.ensure_users("c", Role.CLIENT, options["clients"] or max(10, count // 200))
        technicians = self.ensure_users("t", Role.TECHNICIAN, options["technicians"])
        with transaction.atomic():
            demo.ensure_categories()
            demo.ensure_sla_targets()
        categories = list(Category.objects.values_list("id", flat=True))
        sla = {p: DEFAULT_SLA_HOURS[p] for p in Priority.values}
        for target in SlaTarget.objects.filter(team__isnull=True):
            sla[target.priority] = (target.first_response_hours, target.resolution_hours)

        now = timezone.now()
        context = {
            "rng": rng,
            "clients": clients,
            "technicians": technicians,
            "categories": categories,
            "sla": sla,
            "now": now,
            "days": options["days"],
        }
        progress = Progress(count)
        done = 0
        started = time.monotonic()
        while done < count:
            size = min(options["batch_size"], count - done)
            with transaction.atomic():
                batch_numbers = numbers.reserve_ticket_numbers(size)
                rows = [
                    self.make_row(number, age=1 - (done + index) / count, **context)
                    for index, number in enumerate(batch_numbers)
                ]
                if search.is_postgresql():
                    self.copy_batch(rows)
                else:
                    self.orm_batch(rows)
            done += size
            progress.show(done)
        progress.close()
        if search.is_postgresql():
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE tickets_ticket")
                cursor.execute("ANALYZE tickets_comment")
        seconds = time.monotonic() - started
        self.stdout.write(
            f"seed_tickets: {count:,} tickets in {seconds:,.1f}s ({count / seconds:,.0f}/s)"
        )

    @staticmethod
    def ensure_users(kind: str, role: str, how_many: int) -> list[str]:
        ids = [f"seed-{kind}-{n}" for n in range(1, how_many + 1)]
        existing = set(DirectoryUser.objects.filter(pk__in=ids).values_list("pk", flat=True))
        DirectoryUser.objects.bulk_create(
            [
                DirectoryUser(
                    id=user_id,
                    username=user_id,
                    full_name=f"{'Cliente' if kind == 'c' else 'Técnico'} {user_id[7:]}",
                    email=f"{user_id}@example.com",
                    role=role,
                )
                for user_id in ids
                if user_id not in existing
            ],
            batch_size=5_000,
        )
        return ids

    @staticmethod
    def make_row(
        number: int,
        *,
        age: float,
        rng: random.Random,
        clients: list[str],
        technicians: list[str],
        categories: list[int],
        sla: dict[int, tuple[int, int]],
        now: datetime,
        days: int,
    ) -> dict[str, Any]:
        status = pick(rng, STATUS_WEIGHTS)
        priority = pick(rng, PRIORITY_WEIGHTS)
        # Numbers grow with time, like real tickets: ``age`` goes from 1 (oldest) to 0.
        created = now - timedelta(seconds=age * days * 86_400 + rng.uniform(0, 60))
        first_hours, resolution_hours = sla[priority]
        first_response_at: datetime | None = None
        resolved_at: datetime | None = None
        reply = assignee = None
        updated = created
        if status != Status.PENDING:
            assignee = rng.choice(technicians)
            first_response_at = created + timedelta(hours=rng.expovariate(1 / first_hours))
            reply = rng.choice(REPLIES)
            updated = first_response_at
        if status == Status.RESOLVED:
            resolved_at = updated + timedelta(hours=rng.expovariate(1 / resolution_hours))
            updated = resolved_at
        first_due = created + timedelta(hours=first_hours)
        resolution_due = created + timedelta(hours=resolution_hours)
        resolved_at = resolved_at if resolved_at and resolved_at < now else None
        first_response_at = (
            first_response_at if first_response_at and first_response_at < now else None
        )
        closed_at = None
        if status == Status.RESOLVED and resolved_at is not None:
            close_at = sla_clock.auto_close_at(resolved_at)
            if close_at <= now:
                # Older than AUTO_CLOSE_DAYS: watch_sla would have closed it by now.
                status, closed_at, updated = Status.CLOSED, close_at, close_at
        clocks = seeded_clocks(
            status=status,
            created=created,
            first_response_at=first_response_at,
            resolved_at=resolved_at,
            first_due=first_due,
            resolution_due=resolution_due,
            now=now,
        )
        return {
            "number": number,
            "title": f"{rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)}",
            "description": " ".join(rng.sample(SENTENCES, rng.randint(1, 3))),
            "status": status,
            "priority": int(priority),
            "category_id": rng.choice(categories) if rng.random() < 0.9 else None,
            "client_id": rng.choice(clients),
            "assignee_id": assignee,
            "created_at": created,
            "updated_at": min(updated, now),
            "first_response_at": first_response_at,
            "resolved_at": resolved_at,
            "first_response_due": first_due,
            "resolution_due": resolution_due,
            "closed_at": closed_at,
            **clocks,
            "version": 1,
            "reply_body": reply,
            "reply_author": assignee,
        }

    @staticmethod
    def copy_batch(rows: list[dict[str, Any]]) -> None:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_value(row[column]) for column in COLUMNS))
            buffer.write("\n")
        ticket_columns = ", ".join(COLUMNS[:-2])
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS seed_staging")
            cursor.execute(
                "CREATE TEMP TABLE seed_staging ("
                "number bigint, title text, description text, status text, priority smallint, "
                "category_id bigint, client_id text, assignee_id text, "
                "created_at timestamptz, updated_at timestamptz, first_response_at timestamptz, "
                "resolved_at timestamptz, first_response_due timestamptz, "
                "resolution_due timestamptz, closed_at timestamptz, "
                "first_response_stage smallint, resolution_stage smallint, "
                "next_check_at timestamptz, "
                "version integer, reply_body text, reply_author text"
                ") ON COMMIT DROP"
            )
            with cursor.copy(f"COPY seed_staging ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            cursor.execute(
                f"INSERT INTO tickets_ticket ({ticket_columns}, search_vector) "  # noqa: S608 (constant SQL)
                f"SELECT {ticket_columns}, "
                "setweight(to_tsvector('simple', unaccent('SD-' || number || ' ' || title)), 'A')"
                " || setweight(to_tsvector('simple', unaccent(description)), 'B')"
                " || setweight(to_tsvector('simple', unaccent(coalesce(reply_body, ''))), 'C')"
                " FROM seed_staging ORDER BY number"
            )
            cursor.execute(
                "INSERT INTO tickets_comment (ticket_id, author_id, body, internal, created_at) "
                "SELECT t.id, s.reply_author, s.reply_body, false, s.first_response_at "
                "FROM seed_staging s JOIN tickets_ticket t ON t.number = s.number "
                "WHERE s.reply_body IS NOT NULL AND s.first_response_at IS NOT NULL"
            )
            cursor.execute(
                "INSERT INTO tickets_historyentry (ticket_id, actor_id, field, from_value, "
                "to_value, at) SELECT t.id, s.client_id, 'status', NULL, 'pending', s.created_at "
                "FROM seed_staging s JOIN tickets_ticket t ON t.number = s.number"
            )
            cursor.execute("DROP TABLE seed_staging")

    @staticmethod
    def orm_batch(rows: list[dict[str, Any]]) -> None:
        fields = COLUMNS[:-2]
        tickets = Ticket.objects.bulk_create(
            [Ticket(**{field: row[field] for field in fields}) for row in rows], batch_size=1_000
        )
        Comment.objects.bulk_create(
            [
                Comment(
                    ticket=ticket,
                    author_id=row["reply_author"],
                    body=row["reply_body"],
                    created_at=row["first_response_at"],
                )
                for ticket, row in zip(tickets, rows, strict=True)
                if row["reply_body"] and row["first_response_at"]
            ],
            batch_size=1_000,
        )
        HistoryEntry.objects.bulk_create(
            [
                HistoryEntry(
                    ticket=ticket,
                    actor_id=row["client_id"],
                    field="status",
                    to_value=Status.PENDING,
                    at=row["created_at"],
                )
                for ticket, row in zip(tickets, rows, strict=True)
            ],
            batch_size=1_000,
        )


def _copy_value(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
