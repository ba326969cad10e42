"""The reports dashboard's satisfaction section (issue 19): CSAT, answers, response rate,
the satisfaction chart passed through, the tables per technician, team and category; the
closed total and the new statuses; and a reports deploy that has no ``csat`` yet."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from django.test import Client

from tests.fakes import FakeApis
from tests.test_admin_reports import SUMMARY, serve_filters

pytestmark = pytest.mark.django_db


def figures(**overrides: Any) -> dict[str, Any]:
    data = {
        "answered": 0,
        "good": 0,
        "bad": 0,
        "score": None,
        "surveyed": 0,
        "responded": 0,
        "response_rate": None,
    }
    return data | overrides


CSAT = figures(
    answered=1250, good=1000, bad=250, score=0.8, surveyed=2000, responded=1300, response_rate=0.65
) | {
    "timeline": [
        {"date": "2026-02-01", "answered": 4, "good": 3, "bad": 1, "score": 0.75},
        {"date": "2026-02-02", "answered": 0, "good": 0, "bad": 0, "score": None},
    ],
    "by_technician": [
        {"assignee_id": "3", "name": "Técnico Uno"}
        | figures(answered=3, good=2, bad=1, score=0.6667, surveyed=4, responded=3,
                  response_rate=0.75),
        {"assignee_id": None, "name": "Sin asignar"}
        | figures(surveyed=2, responded=0, response_rate=0.0),
    ],
    "by_team": [
        {"team_id": "9", "name": "Redes", "deleted": True}
        | figures(answered=1, good=1, score=1.0, surveyed=1, responded=1, response_rate=1.0),
        {"team_id": "4", "name": "<b>Soporte</b>", "deleted": False}
        | figures(answered=2, good=1, bad=1, score=0.5),
        {"team_id": None, "name": "Sin equipo", "deleted": False} | figures(surveyed=5),
    ],
    "by_category": [
        {"category": "hardware", "label": "hardware"}
        | figures(answered=3, good=2, bad=1, score=0.6667),
        {"category": "red", "label": "red"} | figures(answered=1, good=1, score=1.0),
        {"category": "", "label": "Sin categoría"} | figures(surveyed=1),
    ],
}  # fmt: skip

STATUSES = [
    {"status": "pending", "label": "Pending", "count": 30},
    {"status": "in_progress", "label": "In progress", "count": 3},
    {"status": "waiting", "label": "Waiting on client", "count": 1},
    {"status": "resolved", "label": "Resolved", "count": 1170},
    {"status": "closed", "label": "Closed", "count": 30},
]


def summary_with(**changes: Any) -> dict[str, Any]:
    """The dashboard tests' summary as reports answers since issue 19."""
    data: dict[str, Any] = copy.deepcopy(SUMMARY)
    data["totals"] = data["totals"] | {"closed": 30}
    data["by_status"] = STATUSES
    data["csat"] = copy.deepcopy(CSAT)
    return data | changes


@dataclass
class Page(HTMLParser):
    """A page's tables (caption → rows of cell texts) and its satisfaction figures."""

    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    kpis: dict[str, str] = field(default_factory=dict)
    _caption: str | None = None
    _row: list[str] | None = None
    _cell: list[str] | None = None
    _in_caption: bool = False
    _in_csat: bool = False
    _term: str | None = None

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and ("data-testid", "csat") in attrs:
            self._in_csat = True
        if tag == "table":
            self._caption = None
        elif tag == "caption":
            self._in_caption = True
            self._caption = ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._in_csat = False
        elif tag == "caption":
            self._in_caption = False
            self.tables[self._caption or ""] = []
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._caption is not None:
                self.tables[self._caption].append(self._row)
            self._row = None
        elif tag in ("dt", "dd") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self._cell = None
            if tag == "dt":
                self._term = text
            elif self._in_csat and self._term is not None:
                self.kpis[self._term] = text

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data.strip()
        elif self._cell is not None:
            self._cell.append(data)

    @classmethod
    def of(cls, text: str) -> Page:
        parsed = cls()
        parsed.feed(text)
        parsed.close()
        return parsed


def dashboard(admin: Client, apis: FakeApis, summary: dict[str, Any], lang: str = "es") -> str:
    serve_filters(apis)
    apis.on("reports", "GET", "summary/", body=summary)
    response = admin.get("/reports/?from=2026-02-01&category=hardware", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    return response.content.decode()


def test_the_satisfaction_figures_in_spanish(admin: Client, apis: FakeApis) -> None:
    html = dashboard(admin, apis, summary_with())
    assert '<h2 id="csat-title">Satisfacción</h2>' in html
    assert Page.of(html).kpis == {
        "Satisfacción (CSAT)": "80,0 %",
        "Respuestas": "1 250",
        "Respuestas buenas": "1 000",
        "Respuestas malas": "250",
        "Encuestas enviadas": "2 000",
        "Tasa de respuesta a la encuesta": "65,0 % 1 300 de 2 000",
    }


def test_the_satisfaction_chart_is_shown_with_the_reports_query(
    admin: Client, apis: FakeApis
) -> None:
    html = dashboard(admin, apis, summary_with())
    section = html[html.index('data-testid="csat"') :]
    assert '<img src="/reports/charts/csat.svg?from=2026-02-01&amp;category=hardware"' in section
    assert 'alt="Respuestas buenas y malas a lo largo del tiempo"' in section
    # Not repeated among the general charts.
    assert html.count("/reports/charts/csat.svg") == 1


def test_the_satisfaction_tables_name_technicians_teams_and_categories(
    admin: Client, apis: FakeApis
) -> None:
    tables = Page.of(dashboard(admin, apis, summary_with())).tables
    head = ["CSAT", "Respuestas", "Respuestas buenas", "Respuestas malas", "Encuestas enviadas",
            "Tasa de respuesta a la encuesta"]  # fmt: skip
    assert tables["Satisfacción por técnico"] == [
        ["Técnico", *head],
        ["Técnico Uno", "66,7 %", "3", "2", "1", "4", "75,0 %"],
        ["Sin asignar", "—", "0", "0", "0", "2", "0,0 %"],
    ]
    assert tables["Satisfacción por equipo"] == [
        ["Equipo", *head],
        ["Redes (eliminado)", "100,0 %", "1", "1", "0", "1", "100,0 %"],
        ["<b>Soporte</b>", "50,0 %", "2", "1", "1", "0", "—"],
        ["Sin equipo", "—", "0", "0", "0", "5", "—"],
    ]
    # By the category's name in tickets; reports' label for one tickets does not list.
    assert tables["Satisfacción por categoría"] == [
        ["Categoría", *head],
        ["Hardware", "66,7 %", "3", "2", "1", "0", "—"],
        ["red", "100,0 %", "1", "1", "0", "0", "—"],
        ["Sin categoría", "—", "0", "0", "0", "1", "—"],
    ]


def test_names_in_the_satisfaction_tables_stay_text(admin: Client, apis: FakeApis) -> None:
    html = dashboard(admin, apis, summary_with())
    assert "&lt;b&gt;Soporte&lt;/b&gt;" in html
    assert "<b>Soporte</b>" not in html


def test_nothing_answered_shows_dashes_and_empty_tables(admin: Client, apis: FakeApis) -> None:
    empty = figures() | {"timeline": [], "by_technician": [], "by_team": [], "by_category": []}
    page = Page.of(dashboard(admin, apis, summary_with(csat=empty)))
    assert page.kpis["Satisfacción (CSAT)"] == "—"
    assert page.kpis["Tasa de respuesta a la encuesta"] == "—"  # no "0 de 0" either
    assert page.kpis["Respuestas"] == "0"
    for caption in ("por técnico", "por equipo", "por categoría"):
        rows = page.tables[f"Satisfacción {caption}"]
        assert rows[1:] == [["No hay encuestas ni respuestas en este periodo."]]


def test_an_older_reports_without_csat_hides_the_section(admin: Client, apis: FakeApis) -> None:
    html = dashboard(admin, apis, SUMMARY)  # no csat, no totals.closed
    assert 'data-testid="csat"' not in html
    assert "Satisfacción" not in html
    assert "charts/csat" not in html
    assert 'data-testid="closed-total"' not in html
    assert "Cerrados" not in html
    # The rest of the dashboard is there.
    assert 'data-testid="kpis"' in html
    assert "/reports/charts/backlog.svg?" in html


@pytest.mark.parametrize("csat", [None, [], "n/a", 3])
def test_a_csat_that_is_not_an_object_hides_the_section(
    admin: Client, apis: FakeApis, csat: Any
) -> None:
    html = dashboard(admin, apis, summary_with(csat=csat))
    assert 'data-testid="csat"' not in html
    assert 'data-testid="kpis"' in html


def test_malformed_breakdowns_are_left_out(admin: Client, apis: FakeApis) -> None:
    csat = copy.deepcopy(CSAT) | {"by_technician": "x", "by_team": [None, 5], "by_category": None}
    del csat["by_category"]
    page = Page.of(dashboard(admin, apis, summary_with(csat=csat)))
    assert page.kpis["Satisfacción (CSAT)"] == "80,0 %"
    for caption in ("por técnico", "por equipo", "por categoría"):
        assert page.tables[f"Satisfacción {caption}"][1:] == [
            ["No hay encuestas ni respuestas en este periodo."]
        ]


def test_closed_tickets_are_told_next_to_the_resolved_ones(admin: Client, apis: FakeApis) -> None:
    html = dashboard(admin, apis, summary_with())
    assert Page.of(html).tables["Por estado"] == [
        ["Pendiente", "30"],
        ["En progreso", "3"],
        ["Esperando al cliente", "1"],
        ["Resuelto", "1 170"],
        ["Cerrado", "30"],
    ]
    resolved = html[html.index("<dt>Resueltos</dt>") :]
    resolved = resolved[: resolved.index("</div>")]
    assert "1\u00a0200" in resolved
    assert "Cerrados: 30" in resolved


def test_the_satisfaction_section_in_english(admin: Client, apis: FakeApis) -> None:
    html = dashboard(admin, apis, summary_with(), lang="en")
    page = Page.of(html)
    assert page.kpis["Satisfaction (CSAT)"] == "80.0 %"
    assert page.kpis["Answers"] == "1,250"
    assert page.kpis["Survey response rate"] == "65.0 % 1,300 of 2,000"
    assert ["Redes (deleted)", "100.0 %", "1", "1", "0", "1", "100.0 %"] in page.tables[
        "Satisfaction per team"
    ]
    assert ["Waiting on client", "1"] in page.tables["By status"]
    assert "Closed: 30" in html


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_the_satisfaction_chart_is_passed_through(admin: Client, apis: FakeApis, fmt: str) -> None:
    kind = {"svg": "image/svg+xml", "png": "image/png"}[fmt]
    image = b"<svg/>" if fmt == "svg" else b"\x89PNG\r\n\x1a\n"

    def chart(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=image, headers={"Content-Type": kind})

    apis.handle("reports", "GET", f"charts/csat.{fmt}", chart)
    response = admin.get(f"/reports/charts/csat.{fmt}?from=2026-02-01&category=hardware")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image  # type: ignore[attr-defined]
    assert response["Content-Type"] == kind
    assert response["Cache-Control"] == "private, no-store"
    call = apis.called("reports", "GET", f"charts/csat.{fmt}")[0]
    assert call.headers["Authorization"].startswith("Bearer ")
    assert call.params == {"from": ["2026-02-01"], "category": ["hardware"], "lang": ["es"]}


def test_the_satisfaction_chart_is_for_admins_only(technician: Client, apis: FakeApis) -> None:
    assert technician.get("/reports/charts/csat.svg").status_code == 403
    assert apis.called("reports", "GET", "charts/csat.svg") == []


def test_a_failed_satisfaction_chart_is_an_empty_error(admin: Client, apis: FakeApis) -> None:
    apis.down.add("reports")
    assert admin.get("/reports/charts/csat.svg").status_code == 503


def test_figures_missing_from_an_answer_are_dashes(admin: Client, apis: FakeApis) -> None:
    # Reports always sends the seven figures; an answer that lacks some (or holds text)
    # shows dashes, never a broken page.
    csat = {"answered": "many", "good": True, "score": "0.5", "surveyed": 3}
    csat |= {"by_team": [{"team_id": "4"}], "by_technician": [{"assignee_id": None}]}
    page = Page.of(dashboard(admin, apis, summary_with(csat=csat)))
    assert page.kpis == {
        "Satisfacción (CSAT)": "—",
        "Respuestas": "—",
        "Respuestas buenas": "—",
        "Respuestas malas": "—",
        "Encuestas enviadas": "3",
        "Tasa de respuesta a la encuesta": "— — de 3",
    }
    assert page.tables["Satisfacción por equipo"][1:] == [["#4", "—", "—", "—", "—", "—", "—"]]
    assert page.tables["Satisfacción por técnico"][1:] == [
        ["Sin asignar", "—", "—", "—", "—", "—", "—"]
    ]
