"""The load test's locustfile, for 20 seconds with a handful of people, so it cannot rot.

The full run (100 people for 10 minutes, memory and figures) is ``bench/load/run.py``,
on demand. Here: the same locustfile through the session's PostgreSQL + RabbitMQ stack,
no failed request, and every event the run published reaches every consumer.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path

from stack import ROOT, Stack

sys.path.insert(0, str(ROOT))

from bench.load import delivery, population, report

PEOPLE = {"client": 3, "technician": 2, "admin": 1}


def test_the_locustfile_runs_clean_and_its_events_arrive(pg_stack: Stack, tmp_path: Path) -> None:
    accounts_url = pg_stack.service_url("accounts")
    admin = population.login(accounts_url, *population.DEMO_ADMIN)
    marks = delivery.watermark(pg_stack.env)
    dead_before = delivery.queue_depths(pg_stack.env)

    people = population.create_accounts(accounts_url, admin, PEOPLE, uuid.uuid4().hex[:6])
    population.wait_for_directory(
        delivery.database_url(pg_stack.env, "tickets"), people, timeout=120
    )
    clients = [p for p in people if p.role == "client"]
    population.open_tickets(pg_stack.service_url("tickets"), admin, clients, per_client=2)
    # Token pairs issued here, behind the gateway: the session's strict sign-in zone for
    # 127.0.0.1 belongs to the tests that check it. The people resume by refreshing.
    people = [
        dataclasses.replace(p, tokens=population.login(accounts_url, p.username, p.password))
        for p in people
    ]
    population.write(tmp_path / "people.json", people)

    csv = tmp_path / "locust"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "load" / "locustfile.py"),
            "--headless",
            "--users",
            str(sum(PEOPLE.values())),
            "--spawn-rate",
            str(sum(PEOPLE.values())),
            "--run-time",
            "20s",
            "--stop-timeout",
            "10",
            "--host",
            pg_stack.base_url,
            "--csv",
            str(csv),
            "--only-summary",
        ],
        env={
            **os.environ,
            "LOAD_POPULATION": str(tmp_path / "people.json"),
            "LOAD_FIXED_COUNTS": ",".join(f"{role}={n}" for role, n in PEOPLE.items()),
            "LOAD_THINK_SCALE": "0.25",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows, total = report.read_stats(csv)
    failures = report.failures_lines(report.read_failures(csv), report.read_exceptions(csv))
    assert total.failures == 0, f"{failures}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert done.returncode == 0, done.stderr[-3000:]
    exercised = {f"{e.method} {e.name}" for e in rows}
    # Every kind of person did something, including the session's refresh.
    for expected in (
        "POST /api/accounts/auth/token/refresh/",
        "GET /api/tickets/ (own)",
        "GET /api/tickets/?queue",
        "GET /api/reports/summary/",
    ):
        assert expected in exercised, sorted(exercised)

    found, _ = delivery.wait_until_delivered(pg_stack.env, marks, timeout=90)
    assert found.total_published > 0
    assert found.unsent == 0, found
    for service, consumer in found.consumers.items():
        assert consumer.delivered == consumer.expected, (service, consumer)
    dead_after = delivery.queue_depths(pg_stack.env)
    dead_letter_queues = [name for name in dead_after if name.endswith(".dlq")]
    assert {q: dead_after[q] for q in dead_letter_queues} == {
        q: dead_before[q] for q in dead_letter_queues
    }
