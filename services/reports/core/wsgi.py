"""WSGI entry point of the reports service (gunicorn core.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from reports.memory import fix_mmap_threshold, freeze_loaded_code

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.production")

# Before Django loads the app: big freed blocks must go back to the system, or every
# worker keeps memory it no longer uses after its first PDFs (see reports/memory.py).
fix_mmap_threshold()

application = get_wsgi_application()

# The views' imports now rather than on the first request, then out of the collector's
# sight, so the collection after each raster chart stays cheap (reports/memory.py).
freeze_loaded_code()
