"""Health check of a relay or consumer container (they serve no HTTP).

The container running at all already says the process is alive (it is PID 1's only
child; when it exits the container stops and its restart policy applies). What is left
to check is ``servidesk_shared.health.worker_problems()`` (``SERVIDESK_WORKER_CHECKS``):
that this container's configuration reaches its database and its broker, which the
APIs' ``health/ready`` leaves out. Exit 0 when it does, 1 with the reasons on stderr
when it does not. Run from the service's folder (the image's WORKDIR)
through the entry point, which health checks bypass otherwise, so that secrets given as
files (JWT_PUBLIC_KEY_FILE, ...) are read the same way as for the process itself:

    /opt/servidesk/entrypoint.sh python /opt/servidesk/worker_health.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.production")
    # Run as a script, so its own folder is on sys.path and the service's is not.
    sys.path.insert(0, str(Path.cwd()))
    django.setup()
    from servidesk_shared.health import worker_problems  # noqa: PLC0415 (after setup)

    reasons = worker_problems()
    if reasons:
        sys.stderr.write("not ready: " + "; ".join(reasons) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
