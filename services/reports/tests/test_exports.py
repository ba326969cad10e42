"""The downloads, read back with the libraries people will open them with."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pandas as pd
import pypdf
import pytest
from reports import charts
from reports.selectors import TICKET_COLUMNS

from tests.dataset import ANA, FIRST_LINE, NETWORK, TEMPORARY, UNNAMED_TEAM
from tests.desk import Desk, at, utc

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def naive(*args: int) -> datetime:
    """A wall-clock datetime, as Excel stores it (no zone)."""
    return datetime(*args, tzinfo=UTC).replace(tzinfo=None)  # type: ignore[misc]


def pdf_text(content: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"[ \t]+", " ", text)


# --- PDF ----------------------------------------------------------------------------------


def test_pdf_in_english_has_the_kpis_charts_table_and_page_numbers(desk: Desk, api: Any) -> None:
    summary = api("summary/", **MARCH, lang="en").json()
    response = api("export.pdf", **MARCH, lang="en")
    reader, text = pdf_text(response.content)
    pages = len(reader.pages)
    assert pages >= 4

    # Title page: the period, the zone and the filters.
    first = reader.pages[0].extract_text()
    assert "Help desk report" in first
    assert "March 1, 2025 to March 31, 2025" in first
    assert "Europe/Madrid" in first
    assert "Filters: none (all tickets)" in first

    # KPI block with the summary's figures, formatted the English way.
    fr, res = summary["first_response"], summary["resolution"]
    for label, value in [
        ("Tickets created", str(summary["totals"]["created"])),
        ("Open", str(summary["totals"]["open"])),
        ("Resolved", str(summary["totals"]["resolved"])),
        ("Reopen rate", f"{summary['reopen_rate'] * 100:.1f}%"),
        ("First response: mean", f"{fr['mean_hours']:.2f} h"),
        ("First response: median", f"{fr['median_hours']:.2f} h"),
        ("First response: p90", f"{fr['p90_hours']:.2f} h"),
        ("First response SLA compliance", f"{fr['sla']['compliance'] * 100:.1f}%"),
        ("Resolution: median", f"{res['median_hours']:.2f} h"),
        ("Resolution SLA compliance", f"{res['sla']['compliance'] * 100:.1f}%"),
        ("Backlog at start", str(summary["activity"]["backlog_start"])),
    ]:
        assert re.search(rf"{re.escape(label)}\s*\n?\s*{re.escape(value)}", text), (label, value)

    # Every chart is embedded as an image, and the technician table is there.
    images = sum(len(page.images) for page in reader.pages)
    assert images == len(charts.CHARTS) == 7
    assert "Per technician" in text
    assert "Ana Pérez" in text
    assert "Bruno Díaz" in text
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text


def test_pdf_in_spanish_by_accept_language(desk: Desk, api: Any) -> None:
    summary = api("summary/", **MARCH).json()
    response = api("export.pdf", **MARCH, headers={"Accept-Language": "es"})
    assert response["Content-Language"] == "es"
    reader, text = pdf_text(response.content)
    assert "Informe del servicio de soporte" in text
    assert "del 1 de marzo de 2025 al 31 de marzo de 2025" in text
    median = f"{summary['first_response']['median_hours']:.2f}".replace(".", ",")
    assert re.search(rf"Primera respuesta: mediana\s*\n?\s*{median} h", text)
    rate = f"{summary['reopen_rate'] * 100:.1f}".replace(".", ",")
    assert f"{rate} %" in text
    assert f"Página 1 de {len(reader.pages)}" in text
    assert reader.metadata is not None
    assert reader.metadata.title.startswith("Informe del servicio de soporte")


def test_pdf_shows_the_filters(desk: Desk, api: Any) -> None:
    response = api("export.pdf", **MARCH, lang="en", assignee_id=str(ANA), priority="high")
    first = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Priority: High" in first
    assert "Technician: Ana Pérez" in first


def test_pdf_is_reproducible(desk: Desk, api: Any) -> None:
    first = api("export.pdf", **MARCH).content
    assert api("export.pdf", **MARCH).content == first
    metadata = pypdf.PdfReader(io.BytesIO(first)).metadata
    assert metadata is not None
    assert metadata.creation_date == datetime(2000, 1, 1, tzinfo=UTC)


def test_an_empty_pdf_is_still_a_report(desk: Desk, api: Any) -> None:
    _reader, text = pdf_text(
        api("export.pdf", **{"from": "2024-06-01", "to": "2024-06-30"}, lang="en").content
    )
    assert "No assigned tickets in this period." in text
    assert re.search(r"Tickets created\s*\n?\s*0", text)


# --- Excel --------------------------------------------------------------------------------


def workbook(api: Any, **params: Any) -> openpyxl.Workbook:
    response = api("export.xlsx", **params)
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_xlsx_sheets_match_the_summary(desk: Desk, api: Any) -> None:
    summary = api("summary/", **MARCH, lang="en").json()
    wb = workbook(api, **MARCH, lang="en")
    assert wb.sheetnames == [
        "Summary",
        "Tickets",
        "By technician",
        "By team",
        "By tag",
        "Satisfaction",
        "Daily",
    ]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref is not None
        assert ws.auto_filter.ref.startswith("A1:")

    values = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    fr, res = summary["first_response"], summary["resolution"]
    assert values["Period start"] == naive(2025, 3, 1)
    assert values["Period end"] == naive(2025, 3, 31)
    assert values["Time zone"] == "Europe/Madrid"
    assert values["Tickets created"] == summary["totals"]["created"]
    assert values["Open"] == summary["totals"]["open"]
    assert values["Reopen rate"] == summary["reopen_rate"]
    assert values["First response: median (h)"] == fr["median_hours"]
    assert values["First response SLA compliance"] == fr["sla"]["compliance"]
    assert values["Resolution: p90 (h)"] == res["p90_hours"]
    assert values["Resolution SLA: breached"] == res["sla"]["breached"]
    assert values["Backlog at end"] == summary["activity"]["backlog_end"]
    for row in summary["by_status"]:
        assert values[f"Status: {row['label']}"] == row["count"]
    summary_cells = {row[0].value: row[1] for row in wb["Summary"].iter_rows(min_row=2)}
    assert summary_cells["Reopen rate"].number_format == "0.0%"
    assert summary_cells["Period start"].number_format == "yyyy-mm-dd"

    tickets = list(wb["Tickets"].iter_rows(values_only=True))
    header, rows = tickets[0], tickets[1:]
    assert len(rows) == summary["totals"]["created"]
    column = {title: index for index, title in enumerate(header)}
    statuses = pd.Series([row[column["Status"]] for row in rows]).value_counts().to_dict()
    assert statuses == {row["label"]: row["count"] for row in summary["by_status"] if row["count"]}
    created = [row[column["Created at"]] for row in rows]
    assert all(isinstance(value, datetime) and value.tzinfo is None for value in created)
    assert created == sorted(created)
    hours = [
        row[column["First response (h)"]]
        for row in rows
        if row[column["First response (h)"]] is not None
    ]
    assert pytest.approx(sum(hours) / len(hours), abs=0.01) == fr["mean_hours"]
    sla = pd.Series([row[column["First response SLA"]] for row in rows]).value_counts().to_dict()
    assert sla == {
        "Met": fr["sla"]["met"],
        "Breached": fr["sla"]["breached"],
        "Pending": fr["sla"]["pending"],
    }
    first_data_row = next(wb["Tickets"].iter_rows(min_row=2, max_row=2))
    assert first_data_row[column["Created at"]].number_format == "yyyy-mm-dd hh:mm"
    assert first_data_row[column["First response (h)"]].number_format == "0.00"

    technicians = list(wb["By technician"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[2], row[4]) for row in technicians] == [
        (t["name"], t["assigned"], t["resolved"]) for t in summary["technicians"]
    ]

    daily = list(wb["Daily"].iter_rows(min_row=2, values_only=True))
    assert len(daily) == 31
    assert [row[0].date().isoformat() for row in daily] == [
        row["date"] for row in summary["timeline"]
    ]
    assert [(row[1], row[2], row[3], row[4]) for row in daily] == [
        (row["created"], row["resolved"], row["reopened"], row["backlog"])
        for row in summary["timeline"]
    ]


def test_xlsx_dates_are_local_wall_clock(desk: Desk, api: Any) -> None:
    wb = workbook(api, **{"from": "2025-03-30", "to": "2025-03-30"}, lang="en")
    rows = list(wb["Tickets"].iter_rows(values_only=True))
    created = rows[1][rows[0].index("Created at")]
    assert created == naive(2025, 3, 30, 0, 30)  # Madrid time, as the Summary sheet says


def test_xlsx_text_is_escaped_and_cleaned(db: None, api: Any) -> None:
    desk = Desk()
    desk.ticket(at(2025, 3, 3, 9, 0), title="  <b>Tom & Jerry</b>\x07 ")
    desk.apply()
    wb = workbook(api, **MARCH, lang="en")
    rows = list(wb["Tickets"].iter_rows(values_only=True))
    # The bell character cannot live in XML; the spaces and the markup survive as text.
    assert rows[1][rows[0].index("Title")] == "  <b>Tom & Jerry</b> "
    csv = pd.read_csv(io.BytesIO(b"".join(api("export.csv", **MARCH).streaming_content)))
    assert csv["title"].iloc[0] == "  <b>Tom & Jerry</b>\x07 "


def test_xlsx_in_spanish(desk: Desk, api: Any) -> None:
    wb = workbook(api, **MARCH, lang="es")
    assert wb.sheetnames == [
        "Resumen",
        "Tickets",
        "Por técnico",
        "Por equipo",
        "Por etiqueta",
        "Satisfacción",
        "Diario",
    ]
    assert wb["Tickets"]["D1"].value == "Estado"


def test_xlsx_is_reproducible(desk: Desk, api: Any) -> None:
    first = b"".join(api("export.xlsx", **MARCH).streaming_content)
    second = b"".join(api("export.xlsx", **MARCH).streaming_content)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- CSV ----------------------------------------------------------------------------------


def test_csv_round_trips_through_pandas(desk: Desk, api: Any) -> None:
    response = api("export.csv", **MARCH)
    assert response.streaming
    content = b"".join(response.streaming_content)
    frame = pd.read_csv(
        io.BytesIO(content), dtype={"ticket_id": str, "assignee_id": str, "client_id": str}
    )
    assert list(frame.columns) == [column.key for column in TICKET_COLUMNS]

    summary = api("summary/", **MARCH).json()
    assert len(frame) == summary["totals"]["created"]
    assert frame["status"].value_counts().to_dict() == {
        row["status"]: row["count"] for row in summary["by_status"] if row["count"]
    }
    assert frame["first_response_hours"].mean() == pytest.approx(
        summary["first_response"]["mean_hours"], abs=0.01
    )
    assert frame["resolution_hours"].median() == pytest.approx(
        summary["resolution"]["median_hours"], abs=0.01
    )
    assert frame["reopen_count"].gt(0).sum() == summary["totals"]["reopened"]
    assert frame["first_response_sla"].value_counts().to_dict() == {
        "met": summary["first_response"]["sla"]["met"],
        "breached": summary["first_response"]["sla"]["breached"],
        "pending": summary["first_response"]["sla"]["pending"],
    }

    # Datetimes carry their offset and name the same instants as the events.
    created = pd.to_datetime(frame["created_at"], utc=True)
    start, end = datetime(2025, 2, 28, 23, tzinfo=UTC), datetime(2025, 3, 31, 22, tzinfo=UTC)
    expected = sorted(utc(t.created_at) for t in desk.tickets if start <= utc(t.created_at) < end)
    assert [value.to_pydatetime() for value in created] == expected
    assert frame["created_at"].iloc[0].endswith("+01:00")
    assert frame["created_at"].iloc[-1].endswith("+02:00")  # after the spring change
    names = (
        frame.dropna(subset=["assignee_name"]).set_index("assignee_id")["assignee_name"].to_dict()
    )
    assert names[str(ANA)] == "Ana Pérez"


def test_csv_of_an_empty_range_has_the_header_only(desk: Desk, api: Any) -> None:
    content = b"".join(
        api("export.csv", **{"from": "2024-06-01", "to": "2024-06-30"}).streaming_content
    )
    frame = pd.read_csv(io.BytesIO(content))
    assert frame.empty
    assert list(frame.columns) == [column.key for column in TICKET_COLUMNS]


# --- teams and tags (issue 18) ------------------------------------------------------------


def march_tickets(desk: Desk) -> dict[str, Any]:
    start, end = datetime(2025, 2, 28, 23, tzinfo=UTC), datetime(2025, 3, 31, 22, tzinfo=UTC)
    return {str(t.id): t for t in desk.tickets if start <= utc(t.created_at) < end}


TEAM_NAMES = {
    FIRST_LINE: "Primer nivel",
    NETWORK: "Redes y comunicaciones",
    TEMPORARY: "Temporal",  # deleted since: the name stays
}


def test_xlsx_has_the_team_and_tag_sheets_and_columns(desk: Desk, api: Any) -> None:
    summary = api("summary/", **MARCH, lang="en").json()
    wb = workbook(api, **MARCH, lang="en")

    teams = list(wb["By team"].iter_rows(values_only=True))
    assert teams[0][:5] == ("Team", "Team id", "Deleted", "Lead", "Tickets")
    assert [row[:5] for row in teams[1:]] == [
        (
            t["name"],
            t["team_id"],
            "Yes" if t["deleted"] else None,
            t["lead_name"],
            t["tickets"],
        )
        for t in summary["by_team"]
    ]
    column = {title: index for index, title in enumerate(teams[0])}
    for row, team in zip(teams[1:], summary["by_team"], strict=True):
        assert row[column["Pending"]] == team["by_status"]["pending"]
        assert row[column["Resolved"]] == team["by_status"]["resolved"]
        assert row[column["SLA breached"]] == team["breached"]
        assert row[column["Mean resolution (h)"]] == team["mean_resolution_hours"]
        assert row[column["Resolution SLA compliance"]] == team["resolution_sla_compliance"]
    assert ("Temporal", str(TEMPORARY), "Yes") in [row[:3] for row in teams[1:]]

    tags = list(wb["By tag"].iter_rows(values_only=True))
    assert tags[0] == ("Tag", "Tickets")
    assert tags[1:] == [(t["tag"], t["count"]) for t in summary["by_tag"]]

    rows = list(wb["Tickets"].iter_rows(values_only=True))
    column = {title: index for index, title in enumerate(rows[0])}
    scripts = march_tickets(desk)
    seen = {
        row[column["Ticket id"]]: (row[column["Team"]], row[column["Team id"]], row[column["Tags"]])
        for row in rows[1:]
    }
    assert seen == {
        ticket_id: (
            TEAM_NAMES.get(t.team_id) if t.team_id else None,
            str(t.team_id) if t.team_id else None,
            ", ".join(t.tags) or None,
        )
        for ticket_id, t in scripts.items()
    }
    assert seen[next(i for i, t in scripts.items() if t.team_id == UNNAMED_TEAM)][:2] == (
        None,
        str(UNNAMED_TEAM),
    )


def test_csv_has_team_and_tag_columns(desk: Desk, api: Any) -> None:
    content = b"".join(api("export.csv", **MARCH).streaming_content)
    frame = pd.read_csv(
        io.BytesIO(content),
        dtype={"ticket_id": str, "team_id": str, "team_name": str, "tags": str},
        keep_default_na=False,
    )
    assert list(frame.columns)[21:24] == ["team_id", "team_name", "tags"]
    scripts = march_tickets(desk)
    assert {
        row.ticket_id: (row.team_id, row.team_name, json.loads(row.tags) if row.tags else [])
        for row in frame.itertuples()
    } == {
        ticket_id: (
            str(t.team_id) if t.team_id else "",
            TEAM_NAMES.get(t.team_id, "") if t.team_id else "",
            list(t.tags),
        )
        for ticket_id, t in scripts.items()
    }


def test_pdf_has_the_team_and_tag_tables(desk: Desk, api: Any) -> None:
    _reader, text = pdf_text(api("export.pdf", **MARCH, lang="en").content)
    assert "Per team" in text
    for name in ("Primer nivel", "Redes y comunicaciones", "Temporal (deleted)", "No team"):
        assert name in text, name
    assert "Tickets per tag" in text
    assert re.search(r"facturación\s*\n?\s*1", text)
    assert re.search(r"vip\s*\n?\s*3", text)


def test_pdf_and_xlsx_show_the_team_and_tag_filters(desk: Desk, api: Any) -> None:
    params = {**MARCH, "lang": "en", "team_id": str(FIRST_LINE), "tag": ["vip", "impresora"]}
    first = pypdf.PdfReader(io.BytesIO(api("export.pdf", **params).content)).pages[0]
    assert "Team: Primer nivel" in first.extract_text()
    assert "Tags: vip, impresora" in first.extract_text()
    wb = workbook(api, **params)
    filters = [row[1] for row in wb["Summary"].iter_rows(values_only=True) if row[0] == "Filter"]
    assert filters == ["Team: Primer nivel", "Tags: vip, impresora"]
    assert len(list(wb["Tickets"].iter_rows())) == 2  # the header and the one ticket
    deleted = workbook(api, **{**MARCH, "lang": "en", "team_id": str(TEMPORARY)})
    assert "Team: Temporal" in [row[1] for row in deleted["Summary"].iter_rows(values_only=True)]


# --- statuses and satisfaction (issue 19) -----------------------------------------------

JUNE = {"from": "2025-06-01", "to": "2025-06-30"}
CSAT_KEYS = ("answered", "good", "bad", "score", "surveyed", "responded", "response_rate")


def june_tickets(desk: Desk) -> dict[str, Any]:
    start, end = datetime(2025, 5, 31, 22, tzinfo=UTC), datetime(2025, 6, 30, 22, tzinfo=UTC)
    return {str(t.id): t for t in desk.tickets if start <= utc(t.created_at) < end}


def test_xlsx_has_the_satisfaction_sheet_and_figures(desk: Desk, api: Any) -> None:
    summary = api("summary/", **JUNE, lang="en").json()
    csat = summary["csat"]
    wb = workbook(api, **JUNE, lang="en")

    values = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert values["Closed (counted in resolved)"] == summary["totals"]["closed"] == 2
    assert values["Status: Waiting on client"] == 2
    assert values["Survey answers"] == csat["answered"] == 4
    assert values["Good answers"] == csat["good"]
    assert values["Bad answers"] == csat["bad"]
    assert values["Satisfaction (CSAT)"] == csat["score"] == 0.75
    assert values["Surveys sent"] == csat["surveyed"]
    assert values["Surveys answered"] == csat["responded"]
    assert values["Survey response rate"] == csat["response_rate"]
    cells = {row[0].value: row[1] for row in wb["Summary"].iter_rows(min_row=2)}
    assert cells["Satisfaction (CSAT)"].number_format == "0.0%"

    rows = list(wb["Satisfaction"].iter_rows(values_only=True))
    assert rows[0] == (
        "By",
        "Name",
        "Id",
        "Answers",
        "Good",
        "Bad",
        "Satisfaction (CSAT)",
        "Surveys sent",
        "Surveys answered",
        "Response rate",
    )
    expected = [
        ("Technician", row["name"], row["assignee_id"], *(row[k] for k in CSAT_KEYS))
        for row in csat["by_technician"]
    ]
    expected += [
        ("Team", row["name"], row["team_id"], *(row[k] for k in CSAT_KEYS))
        for row in csat["by_team"]
    ]
    expected += [
        ("Category", row["label"], row["category"] or None, *(row[k] for k in CSAT_KEYS))
        for row in csat["by_category"]
    ]
    assert rows[1:] == expected
    assert ("Technician", "Unassigned", None) in [row[:3] for row in rows[1:]]

    daily = list(wb["Daily"].iter_rows(values_only=True))
    assert daily[0][-2:] == ("Good answers", "Bad answers")
    assert [(row[5], row[6]) for row in daily[1:]] == [
        (row["good"], row["bad"]) for row in csat["timeline"]
    ]

    tickets = list(wb["Tickets"].iter_rows(values_only=True))
    column = {title: index for index, title in enumerate(tickets[0])}
    by_id = {row[column["Ticket id"]]: row for row in tickets[1:]}
    scripts = june_tickets(desk)
    assert {
        ticket_id: (row[column["Status"]], row[column["Rating"]])
        for ticket_id, row in by_id.items()
    } == {
        ticket_id: (
            {"pending": "Pending", "waiting": "Waiting on client", "resolved": "Resolved"}.get(
                t.status, "Closed"
            ),
            {"good": "Good", "bad": "Bad"}.get(t.rating or ""),
        )
        for ticket_id, t in scripts.items()
    }
    closed = next(t for t in scripts.values() if t.status == "closed" and t.merged_into_id is None)
    row = by_id[str(closed.id)]
    assert row[column["Closed at"]] == naive(2025, 6, 9, 12, 0)  # Madrid wall clock
    assert row[column["Rated at"]] == naive(2025, 6, 3, 8, 0)
    assert row[column["Survey sent at"]] == naive(2025, 6, 2, 12, 0)
    follow_up = next(t for t in scripts.values() if t.follow_up_of_id is not None)
    assert by_id[str(follow_up.id)][column["Follow-up of (ticket id)"]] == str(closed.id)
    waited = next(t for t in scripts.values() if t.ratings and t.ratings[-1][1] == "bad")
    assert by_id[str(waited.id)][column["Time waiting on the client (h)"]] == 24.0


def test_csv_has_the_statuses_and_satisfaction_columns(desk: Desk, api: Any) -> None:
    content = b"".join(api("export.csv", **JUNE).streaming_content)
    frame = pd.read_csv(
        io.BytesIO(content),
        dtype={"ticket_id": str, "follow_up_of_id": str, "rating": str, "waiting_hours": str},
        keep_default_na=False,
    )
    assert list(frame.columns)[-6:] == [
        "waiting_hours",
        "closed_at",
        "follow_up_of_id",
        "surveyed_at",
        "rating",
        "rated_at",
    ]
    scripts = june_tickets(desk)
    assert {row.ticket_id: (row.status, row.rating) for row in frame.itertuples()} == {
        ticket_id: (t.status, t.rating or "") for ticket_id, t in scripts.items()
    }
    rows = frame.set_index("ticket_id")
    rated = {ticket_id: t for ticket_id, t in scripts.items() if t.ratings}
    for ticket_id, t in rated.items():
        assert pd.Timestamp(rows.loc[ticket_id, "rated_at"]) == pd.Timestamp(utc(t.ratings[-1][0]))
    for ticket_id, t in scripts.items():
        surveyed = rows.loc[ticket_id, "surveyed_at"]
        assert (pd.Timestamp(surveyed) if surveyed else None) == (
            pd.Timestamp(utc(t.surveys[-1])) if t.surveys else None
        ), ticket_id
    assert rows["closed_at"].str.endswith("+02:00").sum() == 2  # CEST in June
    assert set(rows["waiting_hours"]) >= {"0.0000", "24.0000"}


def test_pdf_has_the_satisfaction_figures_and_tables(desk: Desk, api: Any) -> None:
    summary = api("summary/", **JUNE, lang="en").json()
    csat = summary["csat"]
    reader, text = pdf_text(api("export.pdf", **JUNE, lang="en").content)
    assert re.search(r"Satisfaction \(CSAT\)\s*\n?\s*75\.0%", text)
    assert re.search(r"Survey answers \(good / bad\)\s*\n?\s*4 \(3 / 1\)", text)
    assert re.search(r"Survey response rate\s*\n?\s*75\.0%", text)
    assert re.search(r"Closed \(counted in resolved\)\s*\n?\s*2", text)
    assert "Customer satisfaction" in text
    assert "Satisfaction (good answers) per day" not in text  # the chart's title is pixels
    for title in (
        "Satisfaction per technician",
        "Satisfaction per team",
        "Satisfaction per category",
    ):
        assert title in text
    assert "Unassigned" in text
    assert "Redes y comunicaciones" in text
    assert sum(len(page.images) for page in reader.pages) == len(charts.CHARTS)
    assert csat["answered"] == 4


def test_pdf_and_xlsx_in_spanish_name_the_satisfaction(desk: Desk, api: Any) -> None:
    _reader, text = pdf_text(api("export.pdf", **JUNE, lang="es").content)
    assert "Satisfacción por técnico" in text
    assert re.search(r"Satisfacción \(CSAT\)\s*\n?\s*75,0 %", text)
    wb = workbook(api, **JUNE, lang="es")
    rows = list(wb["Satisfacción"].iter_rows(values_only=True))
    assert rows[0][:4] == ("Por", "Nombre", "Id", "Respuestas")
    assert ("Técnico", "Sin asignar") in [row[:2] for row in rows[1:]]
    tickets = list(wb["Tickets"].iter_rows(values_only=True))
    at_rating = tickets[0].index("Valoración")
    assert {row[at_rating] for row in tickets[1:]} == {"Buena", "Mala", None}
    statuses = {row[tickets[0].index("Estado")] for row in tickets[1:]}
    assert {"Esperando al cliente", "Cerrado"} <= statuses
