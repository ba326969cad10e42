"""Where attachments live: ``ATTACHMENTS_STORAGE_URL`` as a ``STORAGES`` entry.

- unset: the filesystem, ``<var>/media/attachments/`` (``var/`` at the repository root
  locally; a volume in containers);
- ``file:///srv/servidesk/attachments``: the filesystem at that absolute path;
- ``s3://bucket[/prefix][?endpoint=https://host:9000&region=eu-west-1&addressing_style=path]``:
  S3 or an S3-compatible store (MinIO, Ceph, R2...) through django-storages. Keys come
  from the standard AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``; region ``AWS_DEFAULT_REGION``) or the query (``access_key``,
  ``secret_key``, percent-encoded).

Anything else, or an unknown query parameter, refuses to start (``ImproperlyConfigured``):
a typo must not send files somewhere unexpected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

#: The query parameters of an ``s3://`` URL and the S3Storage option each sets.
S3_PARAMETERS: Final = {
    "endpoint": "endpoint_url",
    "region": "region_name",
    "addressing_style": "addressing_style",
    "access_key": "access_key",
    "secret_key": "secret_key",
}
#: A download is spooled to disk above this size, not held in memory (django-storages
#: keeps the whole object in memory by default).
S3_MAX_MEMORY_SIZE: Final = 1 << 20


def attachments_storage(url: str, *, var: Path) -> dict[str, Any]:
    """The ``STORAGES["attachments"]`` entry for ``url`` (see the module docstring)."""
    if not url:
        return filesystem(var / "media" / "attachments")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ImproperlyConfigured(
                "ATTACHMENTS_STORAGE_URL: a file URL names an absolute path, file:///path."
            )
        return filesystem(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return s3(parts.netloc, parts.path, parts.query)
    raise ImproperlyConfigured(
        "ATTACHMENTS_STORAGE_URL must be empty, file:///path or s3://bucket?endpoint=..."
    )


def filesystem(location: Path) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(location)},
    }


def s3(bucket: str, path: str, query: str) -> dict[str, Any]:
    if not bucket or "@" in bucket or ":" in bucket:
        raise ImproperlyConfigured(
            "ATTACHMENTS_STORAGE_URL: name the bucket as the host, s3://bucket; give keys "
            "in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the query."
        )
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": unquote(path).strip("/"),
        # Keys are random (tickets.attachments.new_storage_key): no existence check needed.
        "file_overwrite": True,
        "default_acl": None,
        "max_memory_size": S3_MAX_MEMORY_SIZE,
    }
    for name, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        if name not in S3_PARAMETERS:
            raise ImproperlyConfigured(
                f"ATTACHMENTS_STORAGE_URL: unknown parameter {name!r}; known: "
                f"{', '.join(S3_PARAMETERS)}."
            )
        if values[-1]:
            options[S3_PARAMETERS[name]] = values[-1]
    endpoint = options.get("endpoint_url", "")
    if endpoint and urlsplit(endpoint).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(
            "ATTACHMENTS_STORAGE_URL: endpoint must be an http(s) URL, e.g. "
            "endpoint=https%3A%2F%2Fminio.internal%3A9000."
        )
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
