"""Inbound mail benchmark: a full support mailbox read by ``manage.py fetch_mail --once``.

    cd /work/main && flock /tmp/servidesk-bench.lock .venv/bin/python bench/mailbox.py \
        [--messages 5000] [--clients 300] [--replies 0.2] [--write] [--profile]

What it does:

1. recreates the tickets database ``--database`` (default ``servidesk_bench_mail`` on the
   local PostgreSQL), migrates it and writes ``--clients`` directory users (clients,
   active, address confirmed) with ``tickets.services.directory_user_upsert``;
2. starts a real Dovecot (``servidesk_testing.dovecot.DovecotServer``) and APPENDs, over
   one IMAP connection, the new conversations: mail from those clients as mail programs
   write it (plain text, text with an HTML alternative, HTML alone, forwarded text,
   signatures, Spanish and English, about ``--attachments`` of them with a small PNG or
   PDF). Senders are drawn unevenly, none above ``INBOUND_MAX_PER_SENDER_PER_HOUR``, so
   no mail is throttled;
3. pass 1: ``manage.py fetch_mail --once --url <that mailbox>`` in ``services/tickets``
   (production settings, files under a temporary ``ATTACHMENTS_STORAGE_URL``; events go
   to the outbox table, no broker is involved), timed from start to exit;
4. then the replies (``--replies`` of all the messages), each from the client whose
   ticket it answers: half threaded as a reply to notifier's mail (``In-Reply-To`` and
   ``References`` ``<sd.<ticket id>.…@host>``), half by the ``[SD-n]`` in the subject
   alone (a mail program that dropped the headers), with the quoted mail below (``>``
   lines or an HTML ``<blockquote>``) and often a signature; pass 2 reads them;
5. checks the result: every message in ``Processed``, none in ``Failed`` or left in the
   INBOX, one ticket per new conversation and one comment per reply, each comment on the
   ticket it answers, the attachments stored.

Mails applied per second = messages applied / wall time of the ``fetch_mail`` process,
which includes starting Django and signing in to Dovecot; that start-up is timed alone
on an empty mailbox first and shown apart. CPU is read from /proc: the fetch process,
its PostgreSQL backend, Dovecot's processes, and the rest of the machine.

``--profile`` runs each pass under cProfile (slower: its rate is not the benchmark's)
and prints where the time went. ``--write`` puts the run into ``docs/benchmarks.md``
between ``<!-- mailbox-bench:start -->`` and ``<!-- mailbox-bench:end -->``.
"""

from __future__ import annotations

import argparse
import imaplib
import io
import os
import pstats
import random
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "testkit")]  # ``bench.machine``, the Dovecot helper

from bench.docs import DOCS, write_region  # noqa: E402
from bench.machine import CLOCK_TICKS, busy_seconds, describe  # noqa: E402
from servidesk_testing.dovecot import DovecotServer, Mailbox  # noqa: E402

SERVICE = ROOT / "services" / "tickets"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_bench_mail"
SUPPORT = "support@servidesk.local"
AIM_PER_SECOND = 50.0
#: The service's default flood limit (``INBOUND_MAX_PER_SENDER_PER_HOUR``).
DEFAULT_PER_SENDER = 30

FIRST_NAMES = (
    "Ana", "Luis", "María", "José", "Lucía", "Carlos", "Elena", "Javier", "Sofía", "Pablo",
    "Marta", "Diego", "Laura", "Andrés", "Carmen", "Miguel", "Paula", "Jorge", "Irene", "Raúl",
    "Emma", "Oliver", "Grace", "Tom",
)  # fmt: skip
LAST_NAMES = (
    "García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz",
    "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro", "Torres", "Smith", "Brown", "Taylor",
)  # fmt: skip
DOMAINS = ("cliente.example", "acme-logistica.example", "hotel-sol.example", "gestoria.example")

SUBJECTS_ES = (
    "La impresora de la planta {n} no imprime",
    "No puedo entrar en el correo desde el móvil",
    "Outlook va muy lento desde esta mañana",
    "Error 0x80070005 al instalar actualizaciones",
    "La VPN se desconecta cada pocos minutos",
    "Necesito acceso a la carpeta compartida de Contabilidad",
    "Pantalla azul al arrancar el portátil",
    "El teléfono de la sala {n} no tiene línea",
    "Alta de usuario para una nueva incorporación",
    "No llegan los correos de un proveedor",
    "Excel se cierra al abrir la hoja de facturas",
    "El proyector de la sala de reuniones no detecta el portátil",
)
SUBJECTS_EN = (
    "Printer on floor {n} is not printing",
    "Cannot sign in to email on my phone",
    "Laptop fan very loud and it shuts down",
    "Need a licence for the design software",
    "Wi-Fi drops in meeting room {n}",
    "Password reset for the accounting system",
)
BODY_ES = (
    "Buenos días,",
    "Desde esta mañana no funciona y ya lo hemos reiniciado dos veces.",
    "Os adjunto una captura del mensaje de error que aparece.",
    "Nos pasa a varias personas del departamento, no solo a mí.",
    "Es bastante urgente porque tenemos que enviar los pedidos antes de las 14:00.",
    "El equipo es el PC-{n} y está en la segunda planta, junto a la ventana.",
    "Ayer por la tarde funcionaba sin problemas.",
    "He probado con otro usuario y pasa lo mismo.",
    "¿Podéis echarle un vistazo cuando podáis?",
    "Gracias de antemano.",
)
BODY_EN = (
    "Hello,",
    "Since this morning it does not work, and restarting did not help.",
    "Please find a screenshot of the error attached.",
    "Several people in the team have the same problem.",
    "It is fairly urgent: we have a client presentation at 3 pm.",
    "The machine is tagged LT-{n}, second floor by the window.",
    "It was fine yesterday afternoon.",
    "Could you have a look when you get a chance?",
    "Thanks in advance.",
)
REPLIES_ES = (
    "Gracias, ya funciona.",
    "Sigue fallando, acabo de probarlo otra vez.",
    "Os confirmo que el equipo está encendido y podéis conectaros cuando queráis.",
    "Mañana estaré en la oficina a partir de las 9:00.",
    "Perfecto, lo pruebo y os digo algo.",
)
REPLIES_EN = (
    "Thanks, it works now.",
    "Still failing, I just tried again.",
    "The laptop is on, you can connect whenever you like.",
    "I will be in the office from 9 am tomorrow.",
)


# --- the people and their mail ----------------------------------------------------------


@dataclass(frozen=True)
class Client:
    user_id: str
    name: str
    email: str
    language: str


@dataclass
class Opened:
    """A new conversation appended in pass 1: who wrote it and its Message-ID."""

    client: Client
    message_id: str
    subject: str
    body: str


@dataclass
class Plan:
    new: list[bytes] = field(default_factory=list)
    opened: list[Opened] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    attachments: int = 0
    #: Tickets opened by the client who opened the most.
    busiest_sender: int = 0
    #: Share of the new conversations that carry a file.
    attachment_share: float = 0.1


def make_clients(count: int, rng: random.Random) -> list[Client]:
    clients = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().translate(str.maketrans("áéíóúñ", "aeioun"))
        email = f"{local}.{n}@{rng.choice(DOMAINS)}"
        language = "en" if first in {"Emma", "Oliver", "Grace", "Tom"} else "es"
        clients.append(Client(f"bench-client-{n}", f"{first} {last}", email, language))
    return clients


def png_bytes(rng: random.Random) -> bytes:
    """A small, valid PNG: a screenshot-sized grey image with some noise."""
    width, height = 160, 90
    rows = b"".join(
        b"\x00" + bytes(rng.choice((200, 201, 230, 40)) for _ in range(width))
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(rng: random.Random) -> bytes:
    """A small, valid one-page PDF (an invoice or a report someone forwards)."""
    text = f"Factura {rng.randint(1000, 9999)} - importe {rng.randint(10, 900)},00 EUR"
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def html_of(text: str, quoted_html: str = "") -> str:
    paragraphs = "".join(
        f'<p class="MsoNormal"><span style="font-family:Calibri">{line}</span></p>'
        for line in text.split("\n")
        if line
    )
    return (
        '<html><head><meta charset="utf-8"><style>p.MsoNormal{margin:0}</style></head>'
        f'<body lang="ES"><div class="WordSection1">{paragraphs}</div>{quoted_html}</body></html>'
    )


def signature(client: Client, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    phone = f"+34 91 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    return f"\n\n-- \n{client.name}\n{phone}\n"


def new_message(n: int, client: Client, rng: random.Random, plan: Plan, now: datetime) -> None:
    spanish = client.language == "es"
    subject = rng.choice(SUBJECTS_ES if spanish else SUBJECTS_EN).format(n=rng.randint(1, 6))
    lines = rng.sample(BODY_ES if spanish else BODY_EN, k=rng.randint(3, 6))
    body = "\n".join(line.format(n=rng.randint(100, 999)) for line in lines)
    forwarded = rng.random() < 0.1
    if forwarded:
        body += (
            "\n\n---------- Forwarded message ---------\n"
            f"From: Proveedor <avisos@proveedor.example>\nSubject: {subject}\n\n"
            + "\n".join(rng.sample(BODY_ES, k=3))
        )
    body += signature(client, rng)
    message = EmailMessage()
    message_id = f"<{uuid.uuid4().hex}@mail.{client.email.split('@')[1]}>"
    message["From"] = formataddr((client.name, client.email))
    message["To"] = formataddr(("Soporte", SUPPORT))
    message["Subject"] = subject
    message["Date"] = format_datetime(now - timedelta(minutes=5000 - n))
    message["Message-ID"] = message_id
    message["User-Agent"] = rng.choice(
        ("Thunderbird/128.5", "Microsoft Outlook 16.0", "iPhone Mail")
    )
    if rng.random() < 0.5:
        message["Content-Language"] = "es-ES" if spanish else "en-GB"
    shape = rng.random()
    if shape < 0.25:
        message.set_content(body)
        message.add_alternative(html_of(body), subtype="html")
        plan.kinds["text + HTML"] += 1
    elif shape < 0.30:
        message.set_content(html_of(body), subtype="html")
        plan.kinds["HTML only"] += 1
    else:
        message.set_content(body)
        plan.kinds["plain text"] += 1
    if forwarded:
        plan.kinds["forwarded text"] += 1
    if rng.random() < plan.attachment_share:
        if rng.random() < 0.5:
            message.add_attachment(
                png_bytes(rng), maintype="image", subtype="png", filename="captura.png"
            )
        else:
            message.add_attachment(
                pdf_bytes(rng), maintype="application", subtype="pdf", filename="factura.pdf"
            )
        plan.attachments += 1
    plan.new.append(bytes(message))
    plan.opened.append(Opened(client, message_id, subject, body))


def reply_message(
    k: int,
    opened: Opened,
    *,
    ticket_id: int,
    number: int,
    rng: random.Random,
    kinds: Counter[str],
    now: datetime,
) -> bytes:
    """A client's answer to notifier's mail about their ticket, as their mail program
    writes it: the new text on top, the mail answered quoted below."""
    client = opened.client
    spanish = client.language == "es"
    text = rng.choice(REPLIES_ES if spanish else REPLIES_EN)
    notifier_text = (
        f"Hola {client.name},\n\nHemos actualizado el ticket SD-{number}: en curso.\n\n"
        + opened.body
    )
    when = format_datetime(now - timedelta(minutes=30))
    intro = (
        f"El {when}, Soporte <{SUPPORT}> escribió:"
        if spanish
        else f"On {when}, Support <{SUPPORT}> wrote:"
    )
    quoted = "\n".join("> " + line if line else ">" for line in notifier_text.split("\n"))
    body = f"{text}{signature(client, rng)}\n\n{intro}\n{quoted}\n"
    message = EmailMessage()
    message["From"] = formataddr((client.name, client.email))
    message["To"] = formataddr(("Soporte", SUPPORT))
    message["Date"] = format_datetime(now - timedelta(minutes=1000 - k % 1000))
    message["Message-ID"] = f"<{uuid.uuid4().hex}@mail.{client.email.split('@')[1]}>"
    if k % 2 == 0:
        answered = f"<sd.{ticket_id}.{uuid.uuid4().hex[:12]}@servidesk.local>"
        message["Subject"] = f"RE: {opened.subject}"
        message["In-Reply-To"] = answered
        message["References"] = f"<sd.{ticket_id}.created@servidesk.local> {answered}"
        kinds["reply by In-Reply-To"] += 1
    else:
        message["Subject"] = f"Re: [SD-{number}] {opened.subject}"
        kinds["reply by [SD-n] subject"] += 1
    if rng.random() < 0.3:
        blockquote = (
            f'<div class="gmail_quote">{intro}<blockquote style="margin:0 0 0 .8ex">'
            + html_of(notifier_text)
            + "</blockquote></div>"
        )
        message.set_content(body)
        message.add_alternative(html_of(text, blockquote), subtype="html")
        kinds["reply with HTML blockquote"] += 1
    else:
        message.set_content(body)
    return bytes(message)


def plan_new(
    count: int,
    clients: list[Client],
    per_sender: int,
    rng: random.Random,
    attachment_share: float,
) -> Plan:
    """``count`` new conversations; senders drawn unevenly (a few write a lot), never one
    past the flood limit."""
    if count > len(clients) * per_sender:
        raise SystemExit(
            f"{count} tickets from {len(clients)} clients would pass the limit of {per_sender} "
            "per sender and hour: more --clients, or --per-sender-per-hour"
        )
    weights = [1.0 / (1 + i % 40) ** 0.6 for i in range(len(clients))]
    sent: Counter[str] = Counter()
    plan = Plan(attachment_share=attachment_share)
    now = datetime.now(tz=UTC)
    for n in range(count):
        while True:
            client = rng.choices(clients, weights)[0]
            if sent[client.email] < per_sender:
                break
        sent[client.email] += 1
        new_message(n, client, rng, plan, now)
    plan.busiest_sender = max(sent.values(), default=0)
    return plan


# --- processes and measurements ---------------------------------------------------------


def psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", url, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(maintenance, f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    maintenance = parts._replace(path="/postgres").geturl()
    psql(maintenance, f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def environment(args: argparse.Namespace, storage: Path) -> dict[str, str]:
    from servidesk_shared.keys import generate_keypair  # noqa: PLC0415

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "TICKETS_DATABASE_URL": args.database,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        # Production settings refuse to start without one; mail needs no token.
        "JWT_PUBLIC_KEY": generate_keypair().public_pem,
        "ATTACHMENTS_STORAGE_URL": storage.as_uri(),
        "SUPPORT_EMAIL": SUPPORT,
        "PYTHONPATH": str(SERVICE),
    }
    if args.per_sender_per_hour is not None:
        env["INBOUND_MAX_PER_SENDER_PER_HOUR"] = str(args.per_sender_per_hour)
    return env


USERS_SCRIPT = """
import json, os
from tickets.services import directory_user_upsert
for user in json.loads(os.environ["BENCH_USERS"]):
    directory_user_upsert(role="client", is_active=True, email_verified=True, **user)
"""


def write_directory(clients: list[Client], env: dict[str, str]) -> None:
    import json  # noqa: PLC0415

    users = [
        {
            "user_id": c.user_id,
            "username": c.email.split("@")[0],
            "full_name": c.name,
            "email": c.email,
        }
        for c in clients
    ]
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", USERS_SCRIPT],
        cwd=SERVICE,
        env={**env, "BENCH_USERS": json.dumps(users)},
        check=True,
    )


def append_all(box: Mailbox, messages: list[bytes]) -> float:
    """APPEND ``messages`` over one connection, as a mail server's delivery would; seconds."""
    started = time.monotonic()
    with box.client() as imap:
        for raw in messages:
            status, data = imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            if status != "OK":
                raise SystemExit(f"APPEND refused: {data!r}")
    return time.monotonic() - started


def stat_fields(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


#: Sampling rounds between two scans of /proc for new processes.
SCAN_EVERY = 5


class ProcSampler:
    """CPU seconds of the processes a pass involves, sampled from /proc while it runs:
    the PostgreSQL backends of our database (told by their process title) and Dovecot's
    processes (its process group). A process seen first during the pass counts from 0;
    one that ends counts up to its last sample (``interval`` apart)."""

    def __init__(self, database: str, dovecot_group: int, interval: float = 0.2) -> None:
        self.title = f" {urlsplit(database).path.lstrip('/')} "
        self.dovecot_group = dovecot_group
        self.interval = interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _classify(self, pid: int, fields: list[str]) -> str | None:
        if int(fields[2]) == self.dovecot_group:
            return "dovecot"
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return None
        if title.startswith("postgres: ") and self.title in title:
            return "postgres"
        return None

    def sample(self, *, initial: bool = False, scan: bool = True) -> None:
        """Read the known processes; with ``scan``, look for new ones in /proc as well."""
        pids = [int(e) for e in os.listdir("/proc") if e.isdigit()] if scan else list(self.kind)
        for pid in pids:
            fields = stat_fields(pid)
            if fields is None:
                continue
            if pid not in self.kind:
                kind = self._classify(pid, fields)
                if kind is None:
                    continue
                self.kind[pid] = kind
                self.first[pid] = (
                    (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if initial else 0.0
                )
            self.last[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def _run(self) -> None:
        # The known processes often; the whole of /proc (new processes) less often.
        rounds = 0
        while not self.stop.wait(self.interval):
            rounds += 1
            self.sample(scan=rounds % SCAN_EVERY == 0)

    def __enter__(self) -> ProcSampler:
        self.sample(initial=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sample()

    def seconds(self, kind: str) -> float:
        return sum(self.last[pid] - self.first[pid] for pid, k in self.kind.items() if k == kind)


@dataclass
class PassResult:
    name: str
    messages: int
    wall: float
    fetch_cpu: float
    postgres_cpu: float
    dovecot_cpu: float
    machine_busy: float
    output: str

    @property
    def per_second(self) -> float:
        return self.messages / self.wall if self.wall else 0.0

    @property
    def others_cores(self) -> float:
        own = self.fetch_cpu + self.postgres_cpu + self.dovecot_cpu
        return max(0.0, self.machine_busy - own) / self.wall if self.wall else 0.0

    def per_mail_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(1, self.messages)


def fetch_pass(
    name: str,
    url: str,
    messages: int,
    *,
    env: dict[str, str],
    args: argparse.Namespace,
    dovecot: DovecotServer,
    work: Path,
    profile_to: Path | None = None,
) -> PassResult:
    command = [sys.executable]
    if profile_to is not None:
        command += ["-m", "cProfile", "-o", str(profile_to)]
    command += ["manage.py", "fetch_mail", "--once", "--url", url]
    assert dovecot.process is not None
    sampler = ProcSampler(args.database, dovecot.process.pid)
    # Files, not pipes: the JSON log (a line per mail) would fill a pipe no one reads.
    out_path, log_path = work / f"{slug(name)}.out", work / f"{slug(name)}.log"
    busy0 = busy_seconds()
    with sampler, out_path.open("wb") as out, log_path.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=SERVICE, env=env, stdout=out, stderr=log)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    busy = busy_seconds() - busy0
    stdout = out_path.read_text(errors="replace")
    stderr = log_path.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fetch_mail failed ({status}):\n{stdout}\n{stderr[-4000:]}")
    return PassResult(
        name=name,
        messages=messages,
        wall=wall,
        fetch_cpu=usage.ru_utime + usage.ru_stime,
        postgres_cpu=sampler.seconds("postgres"),
        dovecot_cpu=sampler.seconds("dovecot"),
        machine_busy=busy,
        output=stdout.strip(),
    )


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


def ticket_ids(database: str) -> dict[str, tuple[int, int]]:
    """Message-ID of each mail that opened a ticket -> (ticket id, ticket number)."""
    rows = psql(
        database,
        "SELECT m.message_id, t.id, t.number FROM inbound_inboundmessage m "
        "JOIN tickets_ticket t ON t.id = m.ticket_id WHERE m.outcome = 'ticket'",
    )
    found = {}
    for row in rows.splitlines():
        message_id, ticket_id, number = row.split("|")
        found[message_id] = (int(ticket_id), int(number))
    return found


def verify(
    database: str, box: Mailbox, *, new: int, replies: int, attachments: int
) -> tuple[list[str], bool]:
    """What the mailbox and the database hold after both passes; whether it is right."""
    outcomes = dict(
        row.split("|")
        for row in psql(
            database, "SELECT outcome, count(*) FROM inbound_inboundmessage GROUP BY outcome"
        ).splitlines()
    )
    tickets = int(psql(database, "SELECT count(*) FROM tickets_ticket"))
    comments = int(psql(database, "SELECT count(*) FROM tickets_comment"))
    # Each comment on the ticket its mail answers, by the client who opened it.
    misplaced = int(
        psql(
            database,
            "SELECT count(*) FROM inbound_inboundmessage m JOIN tickets_comment c "
            "ON c.id = m.comment_id JOIN tickets_ticket t ON t.id = c.ticket_id "
            "WHERE m.outcome = 'comment' AND (t.id <> m.ticket_id OR c.author_id <> t.client_id)",
        )
    )
    stored = int(psql(database, "SELECT count(*) FROM tickets_attachment"))
    failed_rows = int(psql(database, "SELECT count(*) FROM inbound_failedmessage"))
    processed, failed, left = box.count("Processed"), box.count("Failed"), box.count("INBOX")
    ok = (
        tickets == new
        and comments == replies
        and tickets + comments == new + replies
        and int(outcomes.get("ticket", 0)) == new
        and int(outcomes.get("comment", 0)) == replies
        and misplaced == 0
        and stored == attachments
        and failed_rows == 0
        and failed == 0
        and left == 0
        and processed == new + replies
    )
    lines = [
        f"appended {new + replies:,} ({new:,} new, {replies:,} replies); outcomes recorded: "
        + ", ".join(f"{k} {int(v):,}" for k, v in sorted(outcomes.items())),
        f"tickets {tickets:,} + comments {comments:,} = {tickets + comments:,} "
        f"(comments not on the ticket answered or not by its client: {misplaced}); "
        f"attachments stored {stored:,} of {attachments:,}",
        f"mailbox: Processed {processed:,}, Failed {failed:,}, INBOX {left:,}; "
        f"failure records {failed_rows:,}",
    ]
    return lines, ok


def print_profile(path: Path, limit: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


# --- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--messages", type=int, default=5000, help="in the mailbox, in all")
    parser.add_argument("--clients", type=int, default=300, help="directory users who write")
    parser.add_argument("--replies", type=float, default=0.2, help="share that are replies")
    parser.add_argument("--attachments", type=float, default=0.1, help="share with a file")
    parser.add_argument(
        "--per-sender-per-hour",
        type=int,
        default=None,
        help="INBOUND_MAX_PER_SENDER_PER_HOUR for the run (default: the service's)",
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--profile", action="store_true", help="run the passes under cProfile")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--write", action="store_true", help="put the run in docs/benchmarks.md")
    return parser.parse_args()


@dataclass
class Run:
    """What one run measured and found."""

    plan: Plan
    startup: PassResult | None = None
    results: list[PassResult] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    ok: bool = False


class Bench:
    """The run's settings, environment and mail server, for each step to use."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
        self.args, self.env, self.work = args, env, work
        self.dovecot = DovecotServer()

    def fetch(self, name: str, box: Mailbox, messages: int, run: Run) -> PassResult:
        profile_to = self.work / f"pass-{len(run.results)}.prof" if self.args.profile else None
        result = fetch_pass(
            name,
            box.url,
            messages,
            env=self.env,
            args=self.args,
            dovecot=self.dovecot,
            work=self.work,
            profile_to=profile_to,
        )
        print(f"{name}: {result.output}; {result.per_second:.1f} mails/s", flush=True)
        if profile_to is not None and messages:
            run.profiles.append(f"--- {name} ---\n" + print_profile(profile_to))
        return result


def run_passes(bench: Bench, run: Run, *, replies: int, rng: random.Random) -> None:
    """Start-up alone, then the new conversations, then the replies to them; checked."""
    run.startup = bench.fetch("start-up (empty mailbox)", bench.dovecot.new_mailbox(), 0, run)

    box = bench.dovecot.new_mailbox()
    seconds = append_all(box, run.plan.new)
    print(f"appended {len(run.plan.new):,} new conversations in {seconds:.1f} s", flush=True)
    run.results.append(bench.fetch("pass 1: new conversations", box, len(run.plan.new), run))

    opened = ticket_ids(bench.args.database)
    kinds: Counter[str] = Counter()
    answered = rng.sample(run.plan.opened, k=min(replies, len(run.plan.opened)))
    now = datetime.now(tz=UTC)
    reply_mail = []
    for k, mail in enumerate(answered):
        ticket_id, number = opened[mail.message_id]
        reply_mail.append(
            reply_message(
                k, mail, ticket_id=ticket_id, number=number, rng=rng, kinds=kinds, now=now
            )
        )
    run.plan.kinds.update(kinds)
    seconds = append_all(box, reply_mail)
    print(f"appended {len(reply_mail):,} replies in {seconds:.1f} s", flush=True)
    run.results.append(bench.fetch("pass 2: replies", box, len(reply_mail), run))
    run.checks, run.ok = verify(
        bench.args.database,
        box,
        new=len(run.plan.new),
        replies=len(reply_mail),
        attachments=run.plan.attachments,
    )


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    replies = round(args.messages * args.replies)
    per_sender = args.per_sender_per_hour or DEFAULT_PER_SENDER
    clients = make_clients(args.clients, rng)
    run = Run(plan_new(args.messages - replies, clients, per_sender, rng, args.attachments))

    work = Path(tempfile.mkdtemp(prefix="servidesk-bench-mail-"))
    storage = work / "attachments"
    storage.mkdir()
    env = environment(args, storage)
    print(f"database {args.database}: recreating, migrating, {len(clients)} clients", flush=True)
    recreate_database(args.database)
    bench = Bench(args, env, work)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=SERVICE,
            env=env,
            check=True,
        )
        write_directory(clients, env)
        with bench.dovecot:
            run_passes(bench, run, replies=replies, rng=rng)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_database:
            drop_database(args.database)
    report = render(args, run, load=(load_before, os.getloadavg()))
    print(report)
    for text in run.profiles:
        print(text)
    if args.write:
        write_region("mailbox-bench", report)
        print(f"wrote the run into {DOCS.relative_to(ROOT)}")
    return 0 if run.ok else 1


def render(
    args: argparse.Namespace,
    run: Run,
    *,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    plan, results, checks, ok = run.plan, run.results, run.checks, run.ok
    startup = run.startup
    assert startup is not None

    def loads(values: tuple[float, float, float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    messages = sum(r.messages for r in results)
    total = PassResult(
        "both passes",
        messages,
        sum(r.wall for r in results),
        sum(r.fetch_cpu for r in results),
        sum(r.postgres_cpu for r in results),
        sum(r.dovecot_cpu for r in results),
        sum(r.machine_busy for r in results),
        "",
    )
    limit = (
        f"{args.per_sender_per_hour}"
        if args.per_sender_per_hour
        else f"{DEFAULT_PER_SENDER} (the default"
    )
    profiled = " (under cProfile: slower than without)" if args.profile else ""
    lines = [
        f"## Inbound mail: a mailbox of {messages:,} messages "
        f"({datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "`flock /tmp/servidesk-bench.lock "
        + shlex.join([".venv/bin/python", "bench/mailbox.py", *sys.argv[1:]])
        + "`",
        "",
        f"`manage.py fetch_mail --once` (production settings) reading a real Dovecot over "
        f"IMAP on loopback into PostgreSQL{profiled}; {args.clients} clients in the "
        f"directory, `INBOUND_MAX_PER_SENDER_PER_HOUR` {limit}"
        f"{'; ' if args.per_sender_per_hour is None else ' ('}the busiest client opened "
        f"{plan.busiest_sender}); files to a local "
        f"`ATTACHMENTS_STORAGE_URL=file:///…`. Mail: "
        + ", ".join(f"{kind} {count:,}" for kind, count in sorted(plan.kinds.items()))
        + f", with a PNG or PDF {plan.attachments:,}. Machine: {describe()}. Load average "
        f"(1, 5, 15 min) {loads(load[0])} before and {loads(load[1])} after.",
        "",
        "| pass | messages | wall s | mails/s | CPU ms/mail fetch_mail | CPU ms/mail postgres "
        "| CPU ms/mail dovecot | other work, cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*results, total]:
        lines.append(
            f"| {r.name} | {r.messages:,} | {r.wall:.1f} | {r.per_second:.1f} "
            f"| {r.per_mail_ms(r.fetch_cpu):.1f} | {r.per_mail_ms(r.postgres_cpu):.1f} "
            f"| {r.per_mail_ms(r.dovecot_cpu):.1f} | {r.others_cores:.2f} |"
        )
    steady = total.messages / max(1e-9, total.wall - len(results) * startup.wall)
    verdict = "met" if total.per_second >= AIM_PER_SECOND else "not met"
    lines += [
        "",
        f"Wall time is the `fetch_mail` process from start to exit. Starting it alone (Django, "
        f"sign-in, an empty INBOX) took {startup.wall:.2f} s and "
        f"{startup.fetch_cpu:.2f} s of CPU; without that start-up in each pass, "
        f"{total.messages:,} mails in {total.wall - len(results) * startup.wall:.1f} s = "
        f"{steady:.1f} mails/s. CPU columns from /proc; the last is how many of the "
        f"{os.cpu_count()} cores the rest of the machine (other people's work) kept busy.",
        "",
        "Checked after both passes: " + ("**all right**" if ok else "**WRONG**"),
        "",
        *(f"- {line}" for line in checks),
        "",
        f"Aim (issue 17): at least {AIM_PER_SECOND:.0f} mails/s: {total.per_second:.1f} "
        f"over both passes, **{verdict}**.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
