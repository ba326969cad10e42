"""Sustained, realistic load through the gateway: the whole stack for ``--run-time``.

    flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.load.run \\
        [--users 100] [--spawn-rate 0.5] [--run-time 10m] [--append-docs]

What it does:

1. starts the whole stack the way ``make up`` does (``tests/stack.py``'s
   ``running_stack``, i.e. scripts/devstack.py and the Procfile) in its production-like
   shape: PostgreSQL and RabbitMQ under throwaway database names, event prefix and broker
   user (production settings refuse RabbitMQ's default ``guest``), production settings,
   gunicorn 2 workers x 4 threads per service (as in deploy/compose.env), every relay
   and consumer and notifier's sender, nginx in front, mail to a local SMTP server
   (``servidesk_testing.SmtpServer``);
2. creates the people as an admin of the run's own (production settings refuse demo data:
   ``population.create_admin``) through accounts' API (``POST users/``: an address an
   admin gives counts as confirmed, so the people get their mail; nobody has a phone), waits
   until tickets' user directory has them (it fills from ``user.registered``), and has
   staff open a few tickets for each client, so technicians find a queue;
3. runs ``bench/load/locustfile.py`` headless through nginx while sampling the resident
   memory of every process of the stack from /proc;
4. waits until every event published during the run is in every subscribed consumer's
   inbox, with nothing left in the outboxes or queues and no dead letters;
5. prints the results (and with ``--append-docs`` puts them at the top of its region of
   docs/benchmarks.md), then stops the stack and drops its databases and broker names.

All the load comes from 127.0.0.1, while the gateway's limits and accounts' throttles
count per client address: the run raises them (``--gateway-api-rate``, ...), see
docs/reliability.md ("Sustained load").
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import stack as launcher  # noqa: E402  (the stack launcher the cross-service tests use)
from stack import (  # noqa: E402
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    running_stack,
)

from bench.load import cpu, delivery, memory, population, report  # noqa: E402
from bench.machine import describe  # noqa: E402
from servidesk_shared.keys import generate_keypair  # noqa: E402
from servidesk_testing.fakes import SmtpServer  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START, DOCS_END = "<!-- load-bench:start -->", "<!-- load-bench:end -->"


def parse_duration(text: str) -> int:
    """locust's ``--run-time`` syntax (``90s``, ``10m``, ``1h30m``) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", text)
    if not parts or not any(parts.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not like 90s, 10m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin")
    if tool is None:
        raise RuntimeError("rabbitmqctl is needed to give the run a broker user of its own")
    subprocess.run([tool, *args], stdout=subprocess.DEVNULL, check=True, timeout=120)


def add_broker_user(run: str) -> str:
    """A RabbitMQ user of the run's own, with a random password (production settings
    refuse the example ``guest``); the broker URL that signs in as it. Removed by
    ``delete_broker_user``."""
    user, password = f"load-{run}", secrets.token_urlsafe(24)
    rabbitmqctl("add_user", user, password)
    rabbitmqctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    parts = urlsplit(RABBITMQ_URL)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def delete_broker_user(run: str) -> None:
    rabbitmqctl("delete_user", f"load-{run}")


def stack_environment(
    args: argparse.Namespace, run: str, smtp: SmtpServer, broker_url: str
) -> dict[str, str]:
    keys = generate_keypair()
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_load_{run}_{name}"
        for name in SERVICES
    }
    return env | {
        "BROKER_URL": broker_url,
        "SERVIDESK_EVENT_PREFIX": f"load-{run}.",
        # The developer's .env must not change what is measured.
        "SERVIDESK_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",  # plain http on loopback, like deploy/compose.env
        "JWT_PRIVATE_KEY": keys.private_pem,
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_ACCESS_TOKEN_MINUTES": str(args.access_minutes),
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        # One address for every simulated person: per-address limits raised (see docstring).
        "GATEWAY_API_RATE": args.gateway_api_rate,
        "GATEWAY_AUTH_RATE": args.gateway_auth_rate,
        "THROTTLE_LOGIN_IP": args.login_throttle,
        "THROTTLE_REFRESH_IP": args.refresh_throttle,
        # The run's admin opens a ticket per client beforehand, through the API.
        "THROTTLE_WRITE_USER": args.write_throttle,
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "false",
        "TWILIO_ACCOUNT_SID": "",
    }


def prepare_stack(env: Mapping[str, str], var_dir: Path) -> None:
    """Create and migrate the databases first (``devstack.py prepare``): on a busy machine
    migrating five services can take longer than ``running_stack`` waits for readiness."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "devstack.py"), "prepare"],
        cwd=ROOT,
        env={**os.environ, **env, "SERVIDESK_VAR_DIR": str(var_dir)},
        stdout=subprocess.DEVNULL,
        check=True,
    )
    print(f"load: databases migrated in {time.monotonic() - started:.0f} s", flush=True)


#: nginx's ``worker_connections`` in the local config (``nginx/nginx.conf.template``).
GATEWAY_CONNECTIONS = 1024


def gateway_connections(users: int) -> int:
    """Connections the gateway's one worker needs: each person keeps one to nginx, and
    each request in flight one more upstream; with room for the ramp's new ones."""
    return max(GATEWAY_CONNECTIONS, 2 * users + 512)


def raise_gateway_connections(var_dir: Path, users: int) -> int:
    """Give the running gateway enough ``worker_connections`` for ``users`` people.

    The local config's 1024 are one worker's: past about 500 simulated people (each holds
    a keep-alive connection, and a request in flight holds one upstream too) nginx logs
    "worker_connections are not enough" and drops connections, which the people see as
    failures. Like the raised rate limits, this is the run's own change to the rendered
    file, applied by a reload (SIGHUP to the master) before the load starts.
    """
    wanted = gateway_connections(users)
    if wanted == GATEWAY_CONNECTIONS:
        return wanted
    conf = var_dir / "nginx" / "nginx.conf"
    text, count = re.subn(
        r"worker_connections \d+;", f"worker_connections {wanted};", conf.read_text()
    )
    if count != 1:
        raise RuntimeError(f"{conf} has no single worker_connections line")
    conf.write_text(text)
    os.kill(int((var_dir / "nginx" / "nginx.pid").read_text().strip()), signal.SIGHUP)
    time.sleep(2)  # the new worker starts, the old one finishes what it holds
    print(f"load: gateway reloaded with worker_connections {wanted}", flush=True)
    return wanted


def role_counts(users: int) -> dict[str, int]:
    """Accounts per role: the locustfile's share of ``users``, plus two spare."""
    total = sum(population.WEIGHTS.values())
    return {role: math.ceil(users * w / total) + 2 for role, w in population.WEIGHTS.items()}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def during(samples: list[memory.Sample]) -> str:
    loads = sorted(s.load for s in samples)
    if not loads:
        return "unknown"
    return f"{loads[0]:.1f} to {loads[-1]:.1f}, median {loads[len(loads) // 2]:.1f}"


#: (service, path) an admin reads before the load, several times each, two at a time, so
#: both workers of each service have imported what their endpoints import lazily
#: (matplotlib and the fonts for the PDF, openpyxl for the xlsx): a one-off step in RSS
#: that would otherwise read as growth during the run.
WARM_UP = (
    ("reports", "/api/reports/summary/"),
    ("reports", "/api/reports/export.pdf"),
    ("reports", "/api/reports/export.xlsx"),
    ("notifier", "/api/notifications/deliveries/"),
    ("accounts", "/api/accounts/users/"),
    ("tickets", "/api/tickets/?q=impresora"),
)
WARM_UP_ROUNDS = 4


def warm_up(stack: Stack, admin: Mapping[str, str]) -> int:
    def get(item: tuple[str, str]) -> None:
        service, path = item
        response = httpx.get(
            f"{stack.service_url(service)}{path}", headers=population.bearer(admin), timeout=120
        )
        response.raise_for_status()

    calls = [item for item in WARM_UP for _ in range(WARM_UP_ROUNDS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(get, calls))
    return len(calls)


def prepare_people(stack: Stack, args: argparse.Namespace, folder: Path) -> tuple[Path, str]:
    accounts_url = stack.service_url("accounts")
    admin = population.login(accounts_url, *population.create_admin(stack.env))
    started = time.monotonic()
    if args.accounts_via == "api":
        people = population.create_accounts(accounts_url, admin, role_counts(args.users), "")
    else:
        people = population.create_accounts_in_service(
            stack.env, role_counts(args.users), "", resume_share=args.resume_share
        )
    created = time.monotonic() - started
    resumed = sum(1 for p in people if p.tokens)
    waited = population.wait_for_directory(
        delivery.database_url(stack.env, "tickets"), people, timeout=300
    )
    clients = [p for p in people if p.role == "client"]
    tickets = population.open_tickets(
        stack.service_url("tickets"), admin, clients, args.tickets_per_client
    )
    path = folder / "population.json"
    population.write(path, people)
    warmed = warm_up(stack, admin)
    how = (
        "through accounts' API (`POST users/`)"
        if args.accounts_via == "api"
        else "by accounts' `user_create` in one process, their shared password hashed once"
    )
    sessions = (
        f"; {resumed} of them resume a session (a token pair issued beforehand, refreshed "
        f"first) instead of signing in"
        if resumed
        else ""
    )
    summary = (
        f"{len(people)} accounts created {how} in {created:.0f} s "
        f"({', '.join(f'{n} {r}s' for r, n in role_counts(args.users).items())}{sessions}), "
        f"in tickets' "
        f"directory {waited:.1f} s later; {tickets} tickets opened for them beforehand; "
        f"{warmed} warm-up requests by the admin"
    )
    print(f"load: {summary}", flush=True)
    return path, summary


def run_locust(stack: Stack, args: argparse.Namespace, folder: Path, people: Path) -> int:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.run_time,
        "--stop-timeout",
        "30",
        "--host",
        stack.base_url,
        "--csv",
        str(folder / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {
        **os.environ,
        "LOAD_POPULATION": str(people),
        "LOAD_NOTES": str(folder / "notes.json"),
    }
    with open(folder / "locust.log", "wb") as log:
        # locust exits 1 when any request failed: the figures say which.
        return subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode


def stack_log_problems(stack: Stack) -> list[str]:
    """Lines of the stack's log at level ERROR or with a traceback."""
    return [
        line
        for line in stack.log.read_text(errors="replace").splitlines()
        if '"level": "ERROR"' in line or "Traceback" in line or " ERROR " in line
    ]


def render(
    args: argparse.Namespace,
    *,
    folder: Path,
    setup: str,
    loads: tuple[str, str, str],
    seconds: float,
    memory_rows: list[memory.Growth],
    found: delivery.Delivery,
    waited: float,
    mails: int,
    problems: list[str],
    cpu_text: str,
) -> str:
    rows, total = report.read_stats(folder / "locust")
    failures = report.read_failures(folder / "locust")
    exceptions = report.read_exceptions(folder / "locust")
    notes: Mapping[str, int] = {}
    if (folder / "notes.json").is_file():
        notes = json.loads((folder / "notes.json").read_text())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(
        ["flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.load.run"]
        + [shlex.quote(a) for a in sys.argv[1:]]
    )
    problems_text = "none" if not problems else f"{len(problems)}, first: `{problems[0][:300]}`"
    return "\n".join(
        [
            f"## Sustained load through nginx ({when})",
            "",
            f"`{command}`",
            "",
            f"{args.users} users (clients 70%, technicians 25%, admins 5%; "
            f"`bench/load/locustfile.py`) spawned at {args.spawn_rate}/s for {args.run_time} "
            f"({seconds:.0f} s of locust), access tokens of {args.access_minutes} min refreshed "
            f"through accounts. Production settings, PostgreSQL and RabbitMQ, gunicorn "
            f"{args.workers} workers x {args.threads} threads per service, every relay and "
            f"consumer, nginx in front with the per-address limits raised (API "
            f"{args.gateway_api_rate}, sign-in {args.gateway_auth_rate}; accounts' login "
            f"{args.login_throttle}, refresh {args.refresh_throttle}, writes per user "
            f"{args.write_throttle}; nginx worker_connections "
            f"{gateway_connections(args.users)}); "
            f"locust on the same "
            f"machine ({describe()}). Setup: {setup}. "
            f"Load average (1, 5, 15 min) {loads[0]} before, {loads[2]} after; 1-minute "
            f"load during the run {loads[1]} (other work shares the machine).",
            "",
            report.endpoints_table(rows, total),
            "",
            report.notes_line(notes),
            "",
            "Failures:",
            "",
            report.failures_lines(failures, exceptions),
            "",
            "Resident memory (start = after the ramp and "
            f"{args.warmup_seconds} s more, growth = end against start):",
            "",
            report.memory_table(memory_rows),
            "",
            report.events_table(found, waited),
            "",
            "CPU by process kind while locust ran (from /proc; PostgreSQL's backends by "
            "database, the ramp included):",
            "",
            cpu_text,
            "",
            f"Mail received by the SMTP server: {mails:,} messages. "
            f"Stack log lines at ERROR or with a traceback: {problems_text}.",
            "",
            "Aims:",
            "",
            *report.verdict(total, memory_rows, found, exceptions=len(exceptions)),
            "",
        ]
    )


def append_to_docs(text: str) -> None:
    """Newest run first, inside this benchmark's region of docs/benchmarks.md."""
    docs = DOCS.read_text()
    head, start, rest = docs.partition(DOCS_START)
    if not start or DOCS_END not in rest:
        raise RuntimeError(f"{DOCS} has no {DOCS_START} ... {DOCS_END} region")
    DOCS.write_text(f"{head}{start}\n{text}\n{rest.lstrip(chr(10))}")


def exercise(stack: Stack, args: argparse.Namespace, folder: Path, smtp: SmtpServer) -> str:
    raise_gateway_connections(folder / "stack", args.users)
    marks = delivery.watermark(stack.env)
    people, setup = prepare_people(stack, args, folder)
    sampler = memory.Sampler(stack.process.pid, interval=args.sample_every)
    idle = sampler.sample()
    sampler.samples.clear()
    before = load_average()
    print(f"load: locust for {args.run_time}, load average {before}", flush=True)
    started = time.monotonic()
    tracker = cpu.CpuTracker(
        stack.process.pid,
        database_prefix=delivery.database_url(stack.env, "tickets")
        .rsplit("/", 1)[1]
        .removesuffix("tickets"),
        locustfile=str(LOCUSTFILE),
    )
    work_before = {**delivery.work_counts(stack.env), "mails": len(smtp.received())}
    sampler.start()
    tracker.start()
    try:
        run_locust(stack, args, folder, people)
    finally:
        tracker.stop()
        sampler.stop()
    seconds = time.monotonic() - started
    work_after = {**delivery.work_counts(stack.env), "mails": len(smtp.received())}
    work = {key: work_after[key] - work_before[key] for key in work_before}
    after = load_average()
    print("load: waiting for every event to be delivered", flush=True)
    found, waited = delivery.wait_until_delivered(stack.env, marks, timeout=args.delivery_timeout)
    warmup = args.users / args.spawn_rate + args.warmup_seconds
    memory_rows = memory.growth(idle, sampler.samples, warmup, sampler.labels)
    return render(
        args,
        folder=folder,
        setup=setup,
        loads=(before, during(sampler.samples), after),
        seconds=seconds,
        memory_rows=memory_rows,
        found=found,
        waited=waited,
        mails=len(smtp.received()),
        problems=stack_log_problems(stack),
        cpu_text=cpu_section(tracker, seconds, work, folder),
    )


def cpu_section(tracker: cpu.CpuTracker, wall: float, work: Mapping[str, int], folder: Path) -> str:
    rows, total = report.read_stats(folder / "locust")
    by_service = report.requests_by_service(rows)
    units = {
        **work,
        **{f"{service} requests": count for service, count in by_service.items()},
        "requests": total.requests,
    }
    return report.cpu_table(
        tracker.seconds_by_kind(),
        tracker.processes_by_kind(),
        wall,
        units,
        tracker.machine_busy_seconds(),
    )


def scale_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Defaults that follow ``--users``: the ramp's length, the gateway's per-address
    rates and accounts' refresh budget (all the load comes from one address)."""
    if not args.gateway_api_rate:
        args.gateway_api_rate = f"{max(1000, 5 * args.users)}r/s"
    if not args.gateway_auth_rate:
        args.gateway_auth_rate = f"{max(50, args.users // 2)}r/s"
    if args.spawn_rate is None:
        args.spawn_rate = round(args.users / 200, 2)
    if not args.refresh_throttle:
        args.refresh_throttle = f"{max(120, 2 * args.users)}/min"
    if args.resume_share and args.accounts_via != "service":
        parser.error("--resume-share needs --accounts-via service")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=None,
        help="people per second (default: users / 200, the 100-user run's 200 s ramp)",
    )
    parser.add_argument("--run-time", default="10m", help="locust syntax: 90s, 10m, 1h")
    parser.add_argument("--access-minutes", type=int, default=5, help="access token lifetime")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--tickets-per-client", type=int, default=1)
    parser.add_argument("--warmup-seconds", type=int, default=60, help="after the ramp")
    parser.add_argument("--sample-every", type=float, default=10.0, help="RSS, seconds")
    parser.add_argument("--delivery-timeout", type=float, default=180.0)
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="stack start, s")
    parser.add_argument(
        "--gateway-api-rate", default="", help="default: 1000r/s, or 5r/s per user when more"
    )
    parser.add_argument(
        "--gateway-auth-rate",
        default="",
        help="default: 50r/s, or 1r/s per two users when more (a burst of more than 10 "
        "sign-ins at once from the run's one address is refused at 50r/s)",
    )
    parser.add_argument("--login-throttle", default="1000/min")
    parser.add_argument(
        "--refresh-throttle",
        default="",
        help="accounts' THROTTLE_REFRESH_IP (default: 120/min, the service's own, or two "
        "refreshes a minute per user when that is more: every person refreshes every 4 min)",
    )
    parser.add_argument(
        "--write-throttle",
        default="1000/min",
        help="THROTTLE_WRITE_USER of every API: the run's admin opens a ticket per client "
        "beforehand (a person writes a few times a minute, far below either)",
    )
    parser.add_argument(
        "--accounts-via",
        choices=("service", "api"),
        default="service",
        help="create the people by accounts' user_create in one process, the shared "
        "password hashed once (default), or one POST users/ each (a PBKDF2 hash each)",
    )
    parser.add_argument(
        "--resume-share",
        type=float,
        default=0.0,
        help="share of each role's people who resume a session (a token pair issued in "
        "setup, refreshed first) instead of signing in; needs --accounts-via service",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "load")
    parser.add_argument("--append-docs", action="store_true", help=f"add the results to {DOCS}")
    args = parser.parse_args()
    parse_duration(args.run_time)
    scale_defaults(parser, args)

    # running_stack waits 180 s for readiness; a busy machine can need longer to boot
    # ten gunicorn workers and six Django processes (reports imports numpy and matplotlib).
    launcher.wait_ready = functools.partial(launcher.wait_ready, timeout=args.ready_timeout)
    run = uuid.uuid4().hex[:8]
    folder = (args.out / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{run}").resolve()
    folder.mkdir(parents=True)
    print(f"load: run {run}, files in {folder}", flush=True)
    with SmtpServer() as smtp:
        env = stack_environment(args, run, smtp, add_broker_user(run))
        try:
            prepare_stack(env, folder / "stack")
            with running_stack(folder / "stack", env) as stack:
                text = exercise(stack, args, folder, smtp)
        finally:
            try:
                drop_stack_resources(env)
            finally:
                delete_broker_user(run)
    (folder / "results.md").write_text(text)
    print(text)
    if args.append_docs:
        append_to_docs(text)
        print(f"load: added to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
