"""Schemathesis on every reports operation, as anonymous, client, technician and admin.

The known data set (``desk``) is loaded, so the admin's summaries, charts and exports are
computed over real tickets (chart names and formats are enums: generated valid).
"""

from __future__ import annotations

import pytest

from servidesk_testing.api_fuzzing import ServiceSchemathesisTests
from tests.desk import Desk


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/reports/"
    # A PDF or workbook over the data set costs far more than a JSON answer: fewer cases.
    max_examples = 8

    @pytest.fixture
    def path_values(self, desk: Desk) -> dict[str, list[str]]:
        """No objects in paths here; asking for ``desk`` loads the data set."""
        return {}
