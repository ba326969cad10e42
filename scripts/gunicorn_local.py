"""gunicorn settings for `make up`: a small, quick-to-start local process per service."""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 5
# nginx logs every request with its id; gunicorn only logs errors.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so the five local servers (and any test stacks) would fight over it; nothing here uses it.
control_socket_disable = True
