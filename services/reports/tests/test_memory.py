"""A worker gives freed memory back: glibc's mmap threshold, figures freed after drawing."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from reports import charts

from tests.desk import Desk

SERVICE = Path(__file__).resolve().parents[1]
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}

# Frees one 8 MiB block (glibc raises its mmap threshold past it unless the threshold is
# fixed), then allocates 16 blocks of 4 MiB with small heap blocks between them, frees
# the big ones and reports how much of them stayed resident.
SCENARIO = """
import gc, json, sys

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

{setup}
first = bytearray(b"x") * (8 << 20)
del first
before = rss_mib()
blocks, pins = [], []
for _ in range(16):
    blocks.append(bytearray(b"x") * (4 << 20))
    pins.append(bytearray(b"p") * 600)  # from malloc's heap, between the big blocks
del blocks
print(json.dumps({{
    "retained_mib": rss_mib() - before,
    "frozen": gc.get_freeze_count(),
    "views_loaded": "reports.api.views" in sys.modules,
}}))
"""


def run_scenario(setup: str, **env: str) -> dict[str, Any]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "core.settings.test", **env}
    for name in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"):
        if name not in env:
            environment.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO.format(setup=setup)],
        cwd=SERVICE,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's allocator",
)


@glibc
def test_without_the_fix_glibc_keeps_freed_big_blocks() -> None:
    """The cause, shown: what the worker's fix is measured against below."""
    assert run_scenario("")["retained_mib"] > 48


@glibc
def test_the_wsgi_entry_point_returns_freed_big_blocks_and_freezes_the_loaded_code() -> None:
    outcome = run_scenario("import core.wsgi")
    assert outcome["retained_mib"] < 8
    assert outcome["views_loaded"]  # imported at start, not on the first request
    assert outcome["frozen"] > 10_000


@glibc
def test_an_operator_setting_in_the_environment_wins() -> None:
    script = "from reports.memory import fix_mmap_threshold; assert not fix_mmap_threshold()"
    run_scenario(script, MALLOC_MMAP_THRESHOLD_="33554432")
    run_scenario(script, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=33554432")
    fixed = "from reports.memory import fix_mmap_threshold; assert fix_mmap_threshold()"
    run_scenario(fixed, GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX512F")  # other tunables: fixed


def figures_alive() -> int:
    # type(), not isinstance(): that would ask lazy objects for their __class__ and load them.
    return sum(type(thing) is Figure for thing in gc.get_objects())


@pytest.fixture
def no_automatic_collection() -> Any:
    """Only explicit collections run, so figures left to the collector stay visible."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_automatic_collection")
@pytest.mark.parametrize("path", ["export.pdf", "charts/technicians.png", "charts/status.png"])
def test_raster_charts_leave_no_figure_for_the_collector(desk: Desk, api: Any, path: str) -> None:
    assert figures_alive() == 0
    response = api(path, **MARCH, lang="en")
    assert response.status_code == 200
    assert figures_alive() == 0


def test_free_figures_frees_a_figure_drawn_to_pixels(desk: Desk, api: Any) -> None:
    summary = api("summary/", **MARCH, lang="en").json()
    gc.collect()
    gc.disable()
    try:
        image = charts.render_pixels("backlog", summary, dpi=50)
        assert figures_alive() == 1  # a cycle: left for the collector
        charts.free_figures()
        assert figures_alive() == 0
    finally:
        gc.enable()
    assert image.size == (400, 200)  # the pixels themselves are the caller's
