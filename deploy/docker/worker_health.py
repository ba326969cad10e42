"""Health check of a relay, consumer, sender or other worker container (they serve no HTTP).

The container running at all already says the process is alive (it is PID 1's only
child; when it exits the container stops and its restart policy applies). What is left
to check is ``servidesk_shared.health.worker_problems()`` (``SERVIDESK_WORKER_CHECKS``):
that this container's configuration reaches its database and its broker, which the
APIs' ``health/ready`` leaves out. Exit 0 when it does, 1 with the reasons on stderr
when it does not. Run from the service's folder (the image's WORKDIR)
through the entry point, which health checks bypass otherwise, so that secrets given as
files (JWT_PUBLIC_KEY_FILE, ...) are read the same way as for the process itself:

    /opt/servidesk/entrypoint.sh python /opt/servidesk/worker_health.py

``--no-broker`` leaves the broker out, for the processes that never talk to it (the
senders, the mailbox reader, the SLA watcher: they write to the database and the outbox,
the relay publishes): a long broker outage must not get them restarted for nothing.
Relays and consumers run it without.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

#: The argument that leaves the broker out, and the check it leaves out.
NO_BROKER = "--no-broker"
BROKER_CHECK = "servidesk_shared.health.check_broker"


def main(argv: list[str]) -> int:
    unknown = [arg for arg in argv if arg != NO_BROKER]
    if unknown:
        sys.stderr.write(f"usage: worker_health.py [{NO_BROKER}] (not {' '.join(unknown)})\n")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.production")
    # Run as a script, so its own folder is on sys.path and the service's is not.
    sys.path.insert(0, str(Path.cwd()))
    django.setup()
    from django.conf import settings  # noqa: PLC0415 (after setup)

    from servidesk_shared.health import run_checks, worker_problems  # noqa: PLC0415

    if NO_BROKER in argv:
        checks = [c for c in settings.SERVIDESK_WORKER_CHECKS if c != BROKER_CHECK]
        reasons = [reason for reason in run_checks(checks).values() if reason]
    else:
        reasons = worker_problems()
    if reasons:
        sys.stderr.write("not ready: " + "; ".join(reasons) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
