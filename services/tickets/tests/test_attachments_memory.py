"""Uploads and downloads stream: a large file never sits whole in the worker's memory.

The request is built before measuring (its body is the test's, not the worker's), then
run through Django's whole handler (middleware, parsing, view, storage) while
``tracemalloc`` records the peak of what Python allocates.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.test.client import ClientHandler
from tickets.models import Attachment, Ticket

from tests.conftest import Caller

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
#: A worker must not grow by the file's size: a copy of it in memory would show here.
PEAK_LIMIT = 4 * MIB


@pytest.fixture
def stored(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.ATTACHMENT_MAX_BYTES = 21 * MIB
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return root


def test_a_20_mib_upload_and_its_download_stream(
    stored: Path,
    callers: dict[str, Caller],
    open_ticket: Callable[..., Ticket],
    tmp_path: Path,
) -> None:
    ticket = open_ticket("client")
    caller = callers["client"]
    content = os.urandom(20 * MIB)
    request = RequestFactory().post(
        f"/api/tickets/{ticket.pk}/attachments/",
        {"file": SimpleUploadedFile("big.bin", content)},
        headers=caller.headers,
    )
    handler = ClientHandler(enforce_csrf_checks=False)

    tracemalloc.start()
    try:
        response = handler(request.environ)
        upload_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.content
    assert upload_peak < PEAK_LIMIT, f"upload peaked at {upload_peak / MIB:.1f} MiB"
    attachment = Attachment.objects.get()
    assert (stored / attachment.storage_key).read_bytes() == content

    download = RequestFactory().get(
        f"/api/tickets/{ticket.pk}/attachments/{attachment.pk}/download/",
        headers=caller.headers,
    )
    received = 0
    tracemalloc.start()
    try:
        response = handler(download.environ)
        for chunk in response.streaming_content:
            received += len(chunk)
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        response.close()
    assert received == len(content)
    assert download_peak < PEAK_LIMIT, f"download peaked at {download_peak / MIB:.1f} MiB"
