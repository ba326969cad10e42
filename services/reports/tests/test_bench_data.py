"""The benchmark's generator writes a projection the reports can trust (a small run)."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.db.models import Count, F, Q
from reports.metrics import ReportQuery, compute_report
from reports.models import OpenSpell, Person, TicketFact

BENCH = Path(__file__).resolve().parents[3] / "bench" / "reports_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reports_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db
def test_generated_projection_is_consistent(bench: Any) -> None:
    loaded = bench.generate(3000, seed=1, vacuum=False)
    assert TicketFact.objects.count() == 3000
    assert Person.objects.count() == bench.TECHNICIANS
    assert loaded["spells"] == OpenSpell.objects.count()

    # Every ticket has its first spell from creation; resolved tickets have no open spell,
    # open ones exactly one; each reopen adds a spell.
    first = OpenSpell.objects.filter(reopened=False)
    assert first.count() == 3000
    assert not first.exclude(started_at=F("ticket__created_at")).exists()
    open_spells = OpenSpell.objects.filter(ended_at__isnull=True)
    assert not open_spells.filter(ticket__status="resolved").exists()
    assert (
        TicketFact.objects.exclude(status="resolved")
        .annotate(open=Count("spells", filter=Q(spells__ended_at__isnull=True)))
        .exclude(open=1)
        .count()
        == 0
    )
    reopened = TicketFact.objects.filter(reopen_count__gt=0).count()
    assert OpenSpell.objects.filter(reopened=True).count() == reopened
    assert not TicketFact.objects.filter(
        status="resolved", resolution_seconds__isnull=True
    ).exists()
    assert not TicketFact.objects.filter(first_response_at__lt=F("created_at")).exists()
    assert not OpenSpell.objects.filter(ended_at__lt=F("started_at")).exists()

    summary = compute_report(
        ReportQuery(date_from=date(2024, 1, 1), date_to=date(2025, 12, 31))
    ).summary
    assert summary["totals"]["created"] == 3000
    assert summary["activity"]["backlog_start"] == 0
    assert summary["activity"]["backlog_end"] == 3000 - summary["totals"]["resolved"]
    assert 0.5 < summary["resolution"]["sla"]["compliance"] < 1
    assert len(summary["technicians"]) == bench.TECHNICIANS
