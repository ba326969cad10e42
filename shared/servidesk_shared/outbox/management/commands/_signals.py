"""Stop a long-running command cleanly on SIGTERM (containers) and SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType


def on_stop_signals(stop: Callable[[], None]) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
