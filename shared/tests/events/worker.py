"""Entry point of the subprocesses: ``python -m tests.events.worker COMMAND [ARGS]``.

With ``SERVIDESK_TEST_DIE_BEFORE_MARK`` set to a file path, a relay kills itself after
publishing its first batch with confirms and before marking it sent, once.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

DIE_BEFORE_MARK = "SERVIDESK_TEST_DIE_BEFORE_MARK"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.events.worker_settings")
    import django  # noqa: PLC0415 (after the settings variable is set)

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    marker = os.environ.get(DIE_BEFORE_MARK)
    if marker and not Path(marker).exists():
        from servidesk_shared.events.relay import Relay  # noqa: PLC0415

        def die_instead(self: Relay, ids: object) -> None:
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)

        Relay.mark_sent = die_instead  # type: ignore[method-assign]
    call_command(sys.argv[1], *sys.argv[2:])


if __name__ == "__main__":
    main()
