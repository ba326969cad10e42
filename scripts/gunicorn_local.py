"""gunicorn settings for `make up`: a small, quick-to-start local process per service."""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 5
# nginx logs every request with its id; gunicorn only logs errors.
accesslog = None
errorlog = "-"
