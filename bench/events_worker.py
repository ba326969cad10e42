"""``python -m bench.events_worker relay_events|consume_events``: the benchmark's processes."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.events_settings"
    import django  # noqa: PLC0415

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command(*sys.argv[1:])


if __name__ == "__main__":
    main()
