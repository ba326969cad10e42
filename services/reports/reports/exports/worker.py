"""The export worker (``manage.py run_exports``): makes the files of queued export jobs.

One loop per thread: claim a job (``services.export_claim``), render it in its language
with the synchronous exports' code (``jobs.render``), each step of progress written to the
job's row (which renews the lease), then store the file and publish
``report.export_ready`` in one transaction (``services.export_finish``). Between jobs it
waits on ``wakeup.make_waiter()``: a NOTIFY from the API's commit, or the poll interval
(which also brings back the jobs of a worker that died, once their lease ran out). Once a
minute it deletes the jobs whose day is over.

Failures: an error in making the file fails the job with a message its owner sees (it
would fail again); a lost database is waited out (the job's lease brings it back to
whichever worker is up); a lost lease (another worker took the job over) drops the work.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from django.db import DatabaseError, connections
from django.utils.translation import gettext as _
from django.utils.translation import override

from reports import services, wakeup
from reports.exports import jobs
from reports.models import ExportJob
from servidesk_shared.backoff import Backoff

logger = logging.getLogger(__name__)

#: Seconds between two prunes of expired jobs.
PRUNE_EVERY: Final = 60.0


class LeaseLostError(Exception):
    """Another worker holds the job now: this one's work on it is void."""


class ExportWorker:
    def __init__(self, conf: services.ExportSettings | None = None) -> None:
        self._conf = conf
        self.stopping = threading.Event()
        self.pruned_at = 0.0

    @property
    def conf(self) -> services.ExportSettings:
        return self._conf or services.export_settings()

    def run_once(self) -> ExportJob | None:
        """Make one job's file, if one is waiting; the job handled, else ``None``."""
        self.prune_if_due()
        job = services.export_claim(conf=self.conf)
        if job is not None:
            self.process(job)
        return job

    def process(self, job: ExportJob) -> None:
        conf = self.conf

        def progress(percent: int) -> None:
            if not services.export_progress(job=job, progress=percent, conf=conf):
                raise LeaseLostError

        started = time.monotonic()
        with override(job.language):
            try:
                rendered = jobs.render(job.format, jobs.query_of(job.filters), progress=progress)
            except LeaseLostError:
                logger.warning("export %s: taken over by another worker; dropped", job.pk)
                return
            except DatabaseError:
                raise  # the database is away: the lease brings the job back
            except Exception:
                logger.exception("export %s (%s) failed", job.pk, job.format)
                services.export_fail(
                    job=job, error=_("The report could not be made. Try again later.")
                )
                return
        if services.export_finish(job=job, rendered=rendered):
            logger.info(
                "export %s (%s, %d bytes) done in %.1fs",
                job.pk,
                job.format,
                len(rendered.content),
                time.monotonic() - started,
            )
        else:
            logger.warning("export %s: taken over by another worker; dropped", job.pk)

    def prune_if_due(self) -> None:
        if time.monotonic() - self.pruned_at >= PRUNE_EVERY:
            deleted = services.export_prune()
            self.pruned_at = time.monotonic()
            if deleted:
                logger.info("pruned %d expired export(s)", deleted)

    def run(self) -> None:
        """Make files until ``stop()``; a lost database is waited out, not fatal."""
        waiter = wakeup.make_waiter()
        backoff = Backoff(start=0.5, factor=2.0, cap=10.0)
        try:
            while not self.stopping.is_set():
                try:
                    handled = self.run_once()
                    backoff.reset()
                    if handled is None:
                        waiter.wait(self.conf.poll_interval)
                except Exception as exc:
                    delay = backoff.next()
                    if isinstance(exc, DatabaseError):
                        logger.warning("exports: %s; retry in %.1fs", exc, delay)
                    else:
                        logger.exception("exports: unexpected error")
                    connections["default"].close()
                    self.stopping.wait(delay)
        finally:
            waiter.close()
            connections["default"].close()

    def stop(self) -> None:
        self.stopping.set()
        wakeup.wake_local_workers()
