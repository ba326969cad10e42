"""Every settings module of tickets keeps the attachments storage next to Django's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servidesk_testing import test_keypair as throwaway_keypair

SERVICE = Path(__file__).resolve().parent.parent

PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(sorted(settings.STORAGES))"
)


# Production's shared settings leave STORAGES alone; local and test ones set Django's own
# storages and must keep the service's.
@pytest.mark.parametrize("module", ["core.settings.local", "core.settings.test"])
def test_attachments_storage_survives_the_shared_settings(module: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "SERVIDESK_VAR_DIR": str(tmp_path),
        "JWT_PUBLIC_KEY": throwaway_keypair().public_pem,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=SERVICE,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "attachments" in done.stdout
