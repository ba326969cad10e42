"""Benchmark of the agent workspace (issue 18) at a million tickets: the queue filtered by
team and by tags, the status tab counts, the saved views with their counts, and bulk
actions on 500 tickets, through gunicorn on the production settings.

    flock /tmp/servidesk-bench.lock .venv/bin/python bench/workspace.py
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/workspace.py --append-docs

It uses ``bench/tickets_api.py``'s database (``servidesk_tickets_bench``: migrated and
seeded to ``--count`` tickets by the same code), then gives the seeded tickets teams and
tags once, in SQL, as a help desk's would be spread:

- 8 teams of 4 technicians (``seed-t-1`` … ``seed-t-32``); 90% of the tickets belong to
  one (``id % 10`` picks it; 0 is "no team"), so each team holds about 112,000;
- 40 tags: two tickets in three carry one of them, popular ones far more often (tag
  ``k`` on about 1/k of those), and one in five a second one among the ten most used.

Scenarios, each driven by wrk at ``--connections`` connections for ``--duration`` s as a
technician of team 1 (``seed-t-1``): the first page filtered by a team (rotating over
the eight, with and without a status), by "my teams", by one tag (rotating over common
and rare ones), by two tags that must both match; the status tab counts for the whole
queue and for a team; the saved views list with the count of each of its views (ten
views, shared and personal). Then ``--bulk-runs`` bulk requests of 500 tickets each
(add a tag, set a priority, move pending -> in_progress), timed one at a time: a bulk
action is one person's click, not a load.

The aims (issue 18): the filtered queue keeps p99 under 50 ms at 16 connections, counts
for the status tabs and the saved views answer under 50 ms, a bulk action on 500 tickets
finishes under 5 s. ``--append-docs`` writes the run into docs/benchmarks.md between
``<!-- workspace-bench:start -->`` and ``<!-- workspace-bench:end -->``.
"""

# Every SQL text here is built from this module's constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.docs import DOCS, write_region
from bench.machine import describe
from bench.tickets_api import (
    DEFAULT_DATABASE,
    PYTHON,
    ROOT,
    CpuMeter,
    Result,
    children_cpu_seconds,
    ensure_database,
    forget_earlier_runs,
    keypair,
    lua_paths,
    progress_line,
    psql,
    run,
    service_env,
    token,
    wait_until_up,
    wrk,
)

SERVICE = ROOT / "services" / "tickets"
TEAMS = 8
MEMBERS_PER_TEAM = 4
TAGS = 40
TECHNICIAN = "seed-t-1"
#: How the tags look in a real queue: words people type, accents included.
TAG_WORDS = (
    "vpn", "impresora", "correo", "facturación", "contraseña", "wifi", "portátil", "sap",
    "teams", "onboarding", "baja", "licencias", "monitor", "teléfono", "excel", "outlook",
    "acceso", "red", "servidor", "backup", "antivirus", "certificado", "dns", "proxy",
    "escáner", "móvil", "sharepoint", "crm", "erp", "nómina", "almacén", "ventas",
    "compras", "rrhh", "legal", "auditoría", "urgente-cliente", "vip", "garantía", "proveedor",
)  # fmt: skip


def seed_workspace(database: str) -> dict[str, list[int]]:
    """Teams, routing and tags on the seeded tickets, once (idempotent); the ids."""
    done = psql(database, "SELECT count(*) FROM tickets_team")
    if int(done) < TEAMS:
        print("giving the tickets teams and tags ...", flush=True)
        statements = [
            # Directory rows for the members (seed_tickets made a few technicians only).
            "INSERT INTO tickets_directoryuser (id, username, full_name, email, email_verified,"
            " role, is_active, available, updated_at)"
            f" SELECT 'seed-t-' || n, 'seed-t-' || n, 'Técnico ' || n, '', false,"
            f" 'technician', true, true, now() FROM generate_series(1, {TEAMS * MEMBERS_PER_TEAM})"
            " AS n ON CONFLICT (id) DO NOTHING",
            "INSERT INTO tickets_team (name, lead_id, assignment, last_assignee_id, created_at,"
            " updated_at)"
            f" SELECT 'Equipo ' || n, 'seed-t-' || ((n - 1) * {MEMBERS_PER_TEAM} + 1),"
            f" 'round_robin', '', now(), now() FROM generate_series(1, {TEAMS}) AS n",
            "INSERT INTO tickets_teammember (team_id, user_id)"
            f" SELECT t.id, 'seed-t-' || ((t.rank - 1) * {MEMBERS_PER_TEAM} + m)"
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM tickets_team) t,"
            f" generate_series(1, {MEMBERS_PER_TEAM}) AS m",
            "UPDATE tickets_ticket SET team_id = t.id FROM"
            " (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM tickets_team) t"
            f" WHERE tickets_ticket.id % 10 <> 0 AND t.rank = 1 + (tickets_ticket.id % 10 - 1)"
            f" % {TEAMS}",
            "INSERT INTO tickets_tag (name) VALUES "
            + ", ".join(f"('{word}')" for word in TAG_WORDS[:TAGS])
            + " ON CONFLICT (name) DO NOTHING",
            # Tag k on about 1/k of the tagged tickets: a harmonic spread (H_40 ~ 4.28).
            "CREATE TEMP TABLE tag_rank AS SELECT id, rank, sum(1.0 / rank) OVER (ORDER BY rank)"
            " AS upto FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM tickets_tag) s",
            "INSERT INTO tickets_ticket_tags (ticket_id, tag_id)"
            " SELECT t.id, (SELECT r.id FROM tag_rank r WHERE r.upto >="
            " (hashint4(t.id::int) & 1048575) / 1048576.0 * (SELECT max(upto) FROM tag_rank)"
            " ORDER BY r.rank LIMIT 1)"
            " FROM tickets_ticket t WHERE t.id % 3 <> 0",
            "INSERT INTO tickets_ticket_tags (ticket_id, tag_id)"
            " SELECT t.id, r.id FROM tickets_ticket t JOIN tag_rank r"
            " ON r.rank = 1 + (hashint4(t.id::int + 7) & 1023) % 10"
            " WHERE t.id % 5 = 0 ON CONFLICT DO NOTHING",
        ]
        # One psql call: one session (the temporary table) and one transaction.
        psql(database, ";\n".join(statements))
        psql(database, "VACUUM (ANALYZE) tickets_ticket, tickets_ticket_tags, tickets_tag")
    teams = [int(x) for x in psql(database, "SELECT id FROM tickets_team ORDER BY id").split()]
    tags = psql(
        database,
        "SELECT t.name FROM tickets_tag t JOIN tickets_ticket_tags tt ON tt.tag_id = t.id"
        " GROUP BY t.name ORDER BY count(*) DESC",
    ).splitlines()
    return {"teams": teams, "tags": tags}  # type: ignore[dict-item]


def forget_bulk_runs(database: str) -> None:
    """Take back what earlier bulk runs added (their ``lote-<n>`` tags and the history of
    every bulk change), so each run starts from the same data set."""
    for sql in (
        "DELETE FROM tickets_ticket_tags WHERE tag_id IN"
        " (SELECT id FROM tickets_tag WHERE name LIKE 'lote-%')",
        "DELETE FROM tickets_tag WHERE name LIKE 'lote-%'",
        "DELETE FROM tickets_historyentry WHERE actor_id = 'seed-t-1'",
    ):
        psql(database, sql)


@dataclass
class Timed:
    name: str
    seconds: list[float]
    failures: int


def request(
    port: int, method: str, path: str, token_: str, body: object = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token_}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def make_views(port: int, token_: str, admin: str, teams: list[int], tags: list[str]) -> None:
    """Ten saved views of the technician's queue (three shared by an admin)."""
    status, body = request(port, "GET", "/api/tickets/views/", token_)
    if status == 200 and len(json.loads(body)) >= 10:
        return
    views = [
        ("Mis equipos", {"team_id": "mine", "status": ["pending", "in_progress"]}, False),
        ("Sin asignar", {"unassigned": "true", "status": "pending"}, False),
        ("Urgentes", {"priority": "urgent", "status": ["pending", "in_progress"]}, False),
        (f"Equipo {teams[1]}", {"team_id": str(teams[1])}, False),
        ("VPN", {"tag": tags[0]}, False),
        ("VPN y correo", {"tag": [tags[0], tags[1]]}, False),
        ("Vencen pronto", {"due_before": "2026-12-31", "status": "pending"}, False),
        ("Todo abierto", {"status": ["pending", "in_progress"]}, True),
        ("Resueltos", {"status": "resolved"}, True),
        ("Raros", {"tag": tags[-1]}, True),
    ]
    for name, filters, shared in views:
        status, body = request(
            port,
            "POST",
            "/api/tickets/views/",
            admin if shared else token_,
            {"name": name, "filters": filters, "shared": shared},
        )
        if status != 201:
            raise SystemExit(f"cannot save view {name}: {status} {body[:300]!r}")


def time_bulk(port: int, token_: str, database: str, runs: int) -> list[Timed]:
    """``runs`` bulk requests of each action on 500 tickets (different ones each time)."""
    pending = [
        int(x)
        for x in psql(
            database,
            "SELECT id FROM tickets_ticket WHERE status = 'pending' AND merged_into_id IS NULL"
            f" ORDER BY random() LIMIT {500 * runs * 3}",
        ).split()
    ]
    actions = [
        ("bulk: add a tag", "add_tags", lambda n: [f"lote-{n}"]),
        ("bulk: set priority", "priority", lambda n: "high" if n % 2 else "low"),
        ("bulk: pending -> in_progress", "status", lambda n: "in_progress"),
    ]
    timed: list[Timed] = []
    offset = 0
    for name, action, value in actions:
        seconds: list[float] = []
        failures = 0
        for n in range(runs):
            ids = pending[offset : offset + 500]
            offset += 500
            started = time.perf_counter()
            status, body = request(
                port,
                "POST",
                "/api/tickets/bulk/",
                token_,
                {"ids": ids, "action": action, "value": value(n)},
            )
            seconds.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"{name}: {status} {body[:300]!r}")
            failures += sum(1 for row in json.loads(body)["results"] if not row["ok"])
        timed.append(Timed(name, seconds, failures))
        print(f"{name:<30} median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s,"
              f" per-ticket failures {failures}", flush=True)  # fmt: skip
    return timed


def scenarios(technician: str, teams: list[int], tags: list[str]) -> dict[str, str]:
    common, rare = tags[:5], tags[-5:]
    return {
        "queue by team": lua_paths(
            technician,
            [f"/api/tickets/?team_id={team}" for team in teams]
            + [f"/api/tickets/?team_id={team}&status=pending" for team in teams],
        ),
        "queue of my teams": lua_paths(
            technician, ["/api/tickets/?team_id=mine", "/api/tickets/?team_id=mine&status=pending"]
        ),
        "queue by tag": lua_paths(
            technician, [f"/api/tickets/?tag={quote(tag)}" for tag in [*common, *rare]]
        ),
        "queue by two tags": lua_paths(
            technician,
            [
                f"/api/tickets/?tag={quote(a)}&tag={quote(b)}"
                for a, b in zip(common, tags[5:10], strict=True)
            ],
        ),
        "status tab counts": lua_paths(
            technician,
            ["/api/tickets/status-counts/"]
            + [f"/api/tickets/status-counts/?team_id={team}" for team in teams],
        ),
        "saved views with counts": lua_paths(technician, ["/api/tickets/views/"]),
    }


def quote(text: str) -> str:
    from urllib.parse import quote_plus  # noqa: PLC0415

    return quote_plus(text)


def render(
    results: list[Result],
    alone: list[Result],
    bulk: list[Timed],
    *,
    total: int,
    args: argparse.Namespace,
) -> str:
    stamp = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Agent workspace at {total:,} tickets ({stamp})",
        "",
        f"`flock /tmp/servidesk-bench.lock .venv/bin/python bench/workspace.py"
        f"{' --append-docs' if args.append_docs else ''}`: gunicorn, {args.workers} sync"
        f" workers, production settings, PostgreSQL on loopback; wrk at {args.connections}"
        f" connections for {args.duration} s per scenario, as a technician of team 1."
        f" {describe()}",
        "",
        f"| scenario | req/s | p50 | p99 | errors | CPU ms/req (gunicorn + postgres)"
        f" | p50 alone | p99 alone | aim: p99 < 50 ms at {args.connections} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    singles = {result.name: result for result in alone}
    for result in results:
        verdict = "met" if result.p99_ms < 50 else "**missed**"
        single = singles.get(result.name)
        cpu = result.per_request_ms(result.cpu.server) + result.per_request_ms(result.cpu.database)
        lines.append(
            f"| {result.name} | {result.requests_per_second:,.0f} | {result.p50_ms:.1f} ms"
            f" | {result.p99_ms:.1f} ms | {result.errors} | {cpu:.1f}"
            f" | {f'{single.p50_ms:.1f} ms' if single else '-'}"
            f" | {f'{single.p99_ms:.1f} ms' if single else '-'} | {verdict} |"
        )
    cores = os.cpu_count() or 1
    lines += [
        "",
        '"alone": the same requests one at a time (1 connection), what one costs'
        f" without waiting for the others. With {args.connections} requests in flight on"
        f" {cores} cores each waits for the others: the median cannot be under connections"
        " x CPU per request / cores, so p99 < 50 ms at"
        f" {args.connections} connections needs at most {50 * cores / args.connections:.1f}"
        " ms of CPU per request, gunicorn and PostgreSQL together.",
    ]
    lines += [
        "",
        f"Bulk actions, 500 tickets per request, {args.bulk_runs} requests each, one at a time:",
        "",
        "| action | median | slowest | per-ticket failures | aim |",
        "|---|---:|---:|---:|---|",
    ]
    for timed in bulk:
        verdict = "met" if max(timed.seconds) < 5 else "**missed**"
        lines.append(
            f"| {timed.name} | {statistics.median(timed.seconds):.2f} s"
            f" | {max(timed.seconds):.2f} s | {timed.failures} | < 5 s: {verdict} |"
        )
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--port", type=int, default=8198)
    parser.add_argument("--bulk-runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="scenario names to run ('bulk': the bulk runs)")
    parser.add_argument("--append-docs", action="store_true")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1
    private_pem, public_pem = keypair()
    env = service_env(database=args.database, public_pem=public_pem, service=SERVICE)
    ensure_database(args.database)
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env, cwd=SERVICE)
    total = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    if total < args.count:
        raise SystemExit(
            f"{total:,} tickets in {args.database}: seed them first with bench/tickets_api.py"
        )
    ids = seed_workspace(args.database)
    forget_bulk_runs(args.database)
    forget_earlier_runs(args.database)  # tickets_api's: no outbox backlog, fresh statistics
    technician = token(private_pem, TECHNICIAN, "technician")
    admin = token(private_pem, "seed-a-1", "admin")
    psql(
        args.database,
        "INSERT INTO tickets_directoryuser (id, username, full_name, email, email_verified, role,"
        " is_active, available, updated_at) VALUES ('seed-a-1', 'seed-a-1', 'Admin', '', false,"
        " 'admin', true, true, now()) ON CONFLICT (id) DO NOTHING",
    )
    command = [
        PYTHON, "-m", "gunicorn", "core.wsgi", "--bind", f"127.0.0.1:{args.port}",
        "--workers", str(args.workers), "--worker-class", "sync", "--log-level", "warning",
    ]  # fmt: skip
    gunicorn = subprocess.Popen(command, cwd=SERVICE, env=env)
    results: list[Result] = []
    #: The same scenarios one request at a time: what a request costs without queueing.
    alone: list[Result] = []
    try:
        wait_until_up(args.port)
        if not args.only or "saved views with counts" in args.only:
            make_views(args.port, technician, admin, ids["teams"], ids["tags"])
        meter = CpuMeter(gunicorn.pid, args.database)
        plan = scenarios(technician, ids["teams"], ids["tags"])
        wrk("warm-up", plan["queue by team"], port=args.port, duration=3,
            connections=args.connections, threads=1)  # fmt: skip
        for name, script in plan.items():
            if args.only and name not in args.only:
                continue
            for connections in (args.connections, 1):
                before, wrk_before = meter.snapshot(), children_cpu_seconds()
                result = wrk(name, script, port=args.port, duration=args.duration,
                             connections=connections, threads=1)  # fmt: skip
                result.cpu = meter.between(
                    before, meter.snapshot(), children_cpu_seconds() - wrk_before
                )
                (results if connections > 1 else alone).append(result)
                print(f"[{connections} conn] {progress_line(result)}", flush=True)
                for sample in result.error_samples:
                    print(f"    {sample[:200]}", flush=True)
        bulk = (
            time_bulk(args.port, technician, args.database, args.bulk_runs)
            if not args.only or "bulk" in args.only
            else []
        )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    table = render(results, alone, bulk, total=total, args=args)
    print(table)
    if args.append_docs:
        write_region("workspace-bench", table)
        print(f"wrote the run into {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
