"""NUL in a query parameter: a 400 that names the parameter and the character.

Reports' query serializer already refused NUL in its own parameters ("Null characters
are not allowed."); the shared ``InvalidTextMiddleware`` now answers first, the same way
as every other service, also for a parameter name the serializer never sees.
"""

from __future__ import annotations

from typing import Any

import pytest

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


@pytest.mark.parametrize("endpoint", ["summary/", "export.csv", "charts/status.svg"])
@pytest.mark.parametrize("param", ["category", "assignee_id", "from", "un\x00known"])
def test_nul_in_a_filter_is_a_400_naming_it(db: None, api: Any, endpoint: str, param: str) -> None:
    response = api(endpoint, headers={"Accept-Language": "en"}, **{**MARCH, param: "net\x00work"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"] == "The data sent is not valid."
    name = param.replace("\x00", "\ufffd")
    assert list(body["extra"]["fields"]) == [name]
    assert "U+0000" in body["extra"]["fields"][name][0]


def test_nul_in_a_chart_name_stays_a_404(db: None, api: Any) -> None:
    assert api("charts/sta%00tus.svg", **MARCH).status_code == 404
