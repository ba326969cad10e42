"""The settings every service derives from its name, its URL prefix and its folder.

A service's ``base.py`` calls ``apply(globals(), name=..., prefix=...)`` first, which sets:

- ``SERVICE_NAME`` and ``SERVICE_PREFIX`` (the path nginx routes to it, e.g. ``api/tickets/``);
- ``BASE_DIR``: the service's folder, the one holding ``core/settings/base.py``;
- ``SERVIDESK_VAR_DIR``: where local state lives (``servidesk_shared.settings.var_dir``);
- ``DATABASES``: ``<SERVICE>_DATABASE_URL``, then ``DATABASE_URL``, then SQLite under the var
  folder (``servidesk_shared.settings.database_config``), on django_prometheus's wrapper
  of the engine, which counts and times queries (``metered_database``,
  ``servidesk_shared.metrics``);
- ``CACHES``: ``CACHE_URL``, else the database cache in that database, shared by every
  replica (``servidesk_shared.settings.cache_config``, ``servidesk_shared.cache``);
- ``LOCALE_PATHS``: the service's ``locale/``;
- ``STATIC_URL`` under the prefix and ``STATIC_ROOT``;
- ``LOGGING``: one JSON object a line at ``LOG_LEVEL`` (``LOG_JSON=false``: plain text).

A function rather than a star import, like ``production.apply``: these values depend on the
service, which ``defaults`` does not know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import cache_config, database_config, env, var_dir
from servidesk_shared.settings.defaults import TEMPLATES


def apply(settings: dict[str, Any], *, name: str, prefix: str) -> None:
    base_dir = Path(settings["__file__"]).resolve().parents[2]
    var = var_dir(base_dir)
    settings.update(
        SERVICE_NAME=name,
        SERVICE_PREFIX=prefix,
        BASE_DIR=base_dir,
        SERVIDESK_VAR_DIR=var,
        DATABASES={"default": metered_database(database_config(name, var=var))},
        CACHES={"default": cache_config(name)},
        LOCALE_PATHS=[base_dir / "locale"],
        STATIC_URL=f"/{prefix}static/",
        STATIC_ROOT=base_dir / "staticfiles",
        LOGGING=logging_config(
            name,
            level=env.str("LOG_LEVEL", default="INFO"),
            json=env.bool("LOG_JSON", default=True),
        ),
    )


#: Django's database backends -> django_prometheus's, which count queries and time them.
METERED_ENGINES: Final[dict[str, str]] = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}


def metered_database(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a ``DATABASES`` entry) on django_prometheus's wrapper of its backend.

    The wrapper subclasses Django's backend (psycopg 3 included): same vendor, same
    behaviour, plus the ``django_db_*`` metrics. An engine it does not wrap is kept.
    """
    engine = METERED_ENGINES.get(config["ENGINE"])
    return {**config, "ENGINE": engine} if engine else config


def templates(*context_processors: str) -> list[dict[str, Any]]:
    """The shared ``TEMPLATES`` with ``context_processors`` after the common ones."""
    shared: dict[str, Any] = TEMPLATES[0]
    return [
        {
            **shared,
            "OPTIONS": {
                **shared["OPTIONS"],
                "context_processors": [
                    *shared["OPTIONS"]["context_processors"],
                    *context_processors,
                ],
            },
        }
    ]
