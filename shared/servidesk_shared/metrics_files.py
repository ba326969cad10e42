"""The folder of prometheus_client's multiprocess mode, kept small (no Django here).

gunicorn recycles its workers (``max_requests``); each worker leaves a counter and a
histogram file in ``PROMETHEUS_MULTIPROC_DIR`` that the scrape must keep adding up, or
the totals would fall back each time. Left alone, the folder (a memory tmpfs in the
images) grows by a few hundred KB per recycled worker, without end. So when gunicorn's
master sees a worker exit (``child_exit`` in the gunicorn configs), ``worker_exited``
adds the dead worker's values into one ``<kind>_archive.db`` per kind and removes its
files: the sums a scrape reads stay the same, and the folder holds one file per live
worker and kind plus the archives.

The archive is written under another name and renamed over the old one (atomic), then
the dead worker's files are removed: a scrape that reads the folder between the two
counts that worker twice for an instant, and one that listed a file just removed fails
(``read_after_compaction`` in ``servidesk_shared.metrics`` reads again).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

#: The kinds whose values add up over processes (gauges are per process: not archived).
ADDITIVE = ("counter", "histogram", "summary")
ARCHIVE = "archive"


def folder() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def worker_exited(pid: int) -> None:
    """A gunicorn worker is gone: drop its live gauges, fold its counts into the archives."""
    path = folder()
    if path is None:
        return
    multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    for kind in ADDITIVE:
        dead = path / f"{kind}_{pid}.db"
        if dead.exists():
            archive(path, kind, dead)


def archive(path: Path, kind: str, dead: Path) -> None:
    """``dead``'s values added into ``<kind>_archive.db``, then ``dead`` removed."""
    target = path / f"{kind}_{ARCHIVE}.db"
    totals: dict[str, float] = defaultdict(float)
    for source in (target, dead):
        if source.exists():
            read = MmapedDict.read_all_values_from_file  # untyped in prometheus_client
            for key, value, _timestamp, _pos in read(str(source)):  # type: ignore[no-untyped-call]
                totals[key] += value
    # Not *.db until renamed: a scrape never reads it half written.
    scratch = path / f"{kind}_{ARCHIVE}.db.new"
    scratch.unlink(missing_ok=True)
    merged = MmapedDict(str(scratch))  # type: ignore[no-untyped-call]
    try:
        for key, value in totals.items():
            merged.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        merged.close()  # type: ignore[no-untyped-call]
    scratch.replace(target)
    dead.unlink()
