"""Keep a reports worker's resident memory near what it uses (issue 10: memory flat).

Two causes were measured with ``bench/load/reports_memory.py`` (4 threads rendering
PDFs, workbooks, summaries and charts against PostgreSQL, like a gthread worker):

1. **glibc kept freed blocks.** malloc serves blocks of 128 KiB and more with their own
   ``mmap`` and returns them on ``free``, but only until the first such block is freed:
   then it raises that threshold to the block's size (up to 32 MiB). Every chart
   allocates blocks of several MB (matplotlib's Agg canvas, the PIL copy for the PDF,
   numpy and pandas arrays), so after the first PDF they came from the heap, and freed
   heap blocks stayed resident, free but kept, far above the live data.
   ``fix_mmap_threshold`` pins the threshold (which also stops glibc from moving it):
   RSS then stays close to what is in use. ``MALLOC_ARENA_MAX=2`` was tried too and
   changed nothing: the memory was kept inside the arenas, not spread over many of them.
2. **Figures wait for the cyclic collector**, see ``reports.charts.free_figures``. That
   full collection is slow with everything the service imports tracked;
   ``freeze_loaded_code`` moves what is loaded at start out of the collector's sight,
   which makes it cheap.

The figures are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import ctypes
import gc
import os
from typing import Final

from django.urls import get_resolver

M_MMAP_THRESHOLD: Final = -3  # mallopt's parameter number (glibc's malloc.h)
#: glibc's own starting value: blocks from here up are mapped and unmapped on their own.
MMAP_THRESHOLD: Final = 128 * 1024


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fixes glibc's mmap threshold at ``threshold`` bytes; True when it did.

    Leaves the allocator alone when the environment already tunes it (the operator's
    choice wins) and where the C library is not glibc (musl, macOS).
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc.mmap_threshold" in tunables:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


def freeze_loaded_code() -> None:
    """Imports every view (pandas, matplotlib, reportlab, openpyxl) and freezes what is
    alive then: modules, classes and caches that live as long as the process.

    Frozen objects are never collected, so the garbage is collected first. Under
    gunicorn's ``preload_app`` this runs in the master, so workers also keep those pages
    shared (the use ``gc.freeze`` documents).
    """
    get_resolver().url_patterns  # noqa: B018 (imports the URLconf and every view)
    gc.collect()
    gc.freeze()
