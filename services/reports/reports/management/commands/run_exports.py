"""``manage.py run_exports``: the process that makes the files of queued export jobs.

Run it next to the web process (Procfile ``reports-exports``). Several may run, on any
replica: each job is made by one of them (``SKIP LOCKED``), and a job whose worker died
is made again once its lease runs out.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reports.exports.worker import ExportWorker


class Command(BaseCommand):
    help = "Make the files of queued report export jobs, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threads", type=int, default=1, help="Workers (default 1).")
        parser.add_argument(
            "--once", action="store_true", help="Make every waiting job's file, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            worker = ExportWorker()
            count = 0
            while worker.run_once() is not None:
                count += 1
            self.stdout.write(f"{count} export(s) made")
            return

        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        workers = [ExportWorker() for _ in range(max(1, options["threads"]))]
        threads = [
            threading.Thread(target=worker.run, name=f"exports-{n}", daemon=True)
            for n, worker in enumerate(workers)
        ]
        for thread in threads:
            thread.start()
        self.stderr.write(f"making report exports ({len(workers)} worker(s))")
        while not stopping.wait(1.0):
            if not any(thread.is_alive() for thread in threads):
                raise SystemExit("every export worker died")
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=30)
        self.stderr.write("stopped")
