"""Build-time steps of a service image, run from the service's folder.

``collectstatic`` (whitenoise serves the result, and its manifest must exist at run time)
and ``check --deploy`` need the production settings to load, and those refuse to start
without real-looking secrets. This gives them throwaway values that exist only for this
process: nothing secret is baked into the image.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path

import django
from django.core.management import call_command

from servidesk_shared.keys import generate_keypair


def main() -> int:
    pair = generate_keypair()
    with tempfile.TemporaryDirectory(prefix="servidesk-build-") as scratch:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "core.settings.production",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "ALLOWED_HOSTS": "build.invalid",
                "JWT_PUBLIC_KEY": pair.public_pem,
                "JWT_PRIVATE_KEY": pair.private_pem,
                "SERVIDESK_VAR_DIR": scratch,
                # Never opened by these commands; set so no default can point elsewhere.
                "DATABASE_URL": f"sqlite:///{Path(scratch) / 'build.sqlite3'}",
                "BROKER_URL": "",
            }
        )
        # Run as a script, so its own folder is on sys.path and the service's is not.
        sys.path.insert(0, str(Path.cwd()))
        django.setup()
        call_command("collectstatic", interactive=False, verbosity=1)
        # Fails the build on a production settings error; warnings are printed.
        call_command("check", deploy=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
