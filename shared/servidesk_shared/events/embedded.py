"""The embedded broker: kombu's ``filesystem`` transport, made safe across processes.

It lets ``make up`` run without RabbitMQ. It is for trying Servidesk out, not for
production: a consumer killed while holding unacknowledged messages loses them (the
virtual transport keeps them in memory), and there is no native dead-lettering (the
consumer dead-letters explicitly, see ``deadletters.py``).

What this subclass changes, and why:

- ``_put`` writes each message to a hidden temporary file and renames it into place.
  The stock writer creates the final file and then writes into it, so a reader polling
  the folder can pick up a half-written message (kombu issue #1551).
- ``_get`` claims a message by renaming it into ``claimed/`` on the same filesystem: one
  atomic step with a single winner. The stock reader ``shutil.move``s it to the system
  temporary folder, which is a copy when that is another filesystem, so two consumers
  could both read it.
- File names start with the zero-padded wall clock in nanoseconds, so sorting the folder
  gives publish order across processes at a finer grain than the stock milliseconds.
- ``_queue_bind`` rewrites ``control/<exchange>.exchange`` under a lock file of its own
  and replaces it atomically. The stock one checks that the file exists, then opens and
  reads it, so a binder racing the process that is creating it reads an empty file and
  fails with a JSON error (seen when a relay and a consumer start together).
- The in-memory binding state is kept per broker folder instead of once per process,
  so two folders (tests) never share a stale "already bound" flag. The bindings
  themselves live in ``control/<exchange>.exchange``, which is what makes topic routing
  work across processes: a publisher that declared the topology routes with the bindings
  every process wrote there.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

_QUEUE_SUFFIX = ".msg"


class Channel(filesystem.Channel):  # type: ignore[misc]  # kombu is untyped
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}{_QUEUE_SUFFIX}"
        folder = Path(self.data_folder_out)
        # A leading dot keeps the temporary name from matching any queue's pattern.
        temporary = folder / f".{name}.tmp"
        temporary.write_bytes(dumps(payload).encode())
        os.replace(temporary, folder / name)

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}{_QUEUE_SUFFIX}"
        folder = Path(self.data_folder_in)
        claimed = self._claimed_folder
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            target = claimed / name
            try:
                os.rename(folder / name, target)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = target.read_bytes()
            finally:
                target.unlink(missing_ok=True)
            return loads(payload)
        raise virtual.Empty()

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        table = Path(self._exchange_file(exchange))
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with open(table.with_name(f".{table.name}.lock"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
            try:
                bound = [filesystem.exchange_queue_t(*row) for row in loads(table.read_text())]
            except FileNotFoundError:
                bound = []
            if entry in bound:
                return
            temporary = table.with_name(f".{table.name}.{os.getpid()}.{threading.get_ident()}")
            temporary.write_text(dumps([entry, *bound]))
            os.replace(temporary, table)

    @property
    def _claimed_folder(self) -> Path:
        folder = Path(self.data_folder_in) / "claimed"
        folder.mkdir(exist_ok=True)
        return folder


class Transport(filesystem.Transport):  # type: ignore[misc]
    Channel = Channel
    driver_name = "servidesk-embedded"

    _states: ClassVar[dict[str, virtual.BrokerState]] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        folder = str(client.transport_options.get("data_folder_in", ""))
        self.state = self._states.setdefault(folder, virtual.BrokerState())


def transport_options(folder: Path, *, polling_interval: float) -> dict[str, Any]:
    """The options for a broker living in ``folder`` (messages and bindings side by side)."""
    messages = folder / "messages"
    control = folder / "control"
    for path in (messages, control):
        path.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        # The stock default is a relative "control": each service runs from its own
        # folder, so without this they would not see each other's bindings.
        "control_folder": str(control),
        "polling_interval": polling_interval,
    }
