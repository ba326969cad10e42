"""Texts in the recipient's language, with number, title, status and link; SMS that fit."""

from __future__ import annotations

from typing import Any, Final

import pytest
from notifications import sms_text
from notifications.messages import Kind, compose, language_for


def context(kind: str, title: str = "Impresora sin tóner", **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "ticket": {
            "id": "42",
            "number": "SD-1042",
            "title": title,
            "status": "in_progress",
            "priority": "high",
        },
        "from_status": "pending",
        "to_status": "in_progress",
        "comment": {"body": "Ya hemos pedido el tóner.", "internal": False},
        **extra,
    }


@pytest.mark.parametrize("kind", Kind.ALL)
@pytest.mark.parametrize(("language", "status"), [("es", "En progreso"), ("en", "In progress")])
def test_every_kind_names_number_title_status_and_link(
    kind: str, language: str, status: str
) -> None:
    composed = compose(context(kind), language, sms=True)
    everything = f"{composed.title} {composed.body}"
    assert "SD-1042" in composed.title
    assert "Impresora sin tóner" in composed.body
    assert composed.status == status
    assert composed.link == "http://testserver/tickets/42/"
    assert "SD-1042" in composed.sms
    assert "Impresora sin" in composed.sms
    assert status in composed.sms
    assert composed.sms.endswith(" http://testserver/tickets/42/")
    assert everything


def test_spanish_and_english_differ() -> None:
    spanish = compose(context(Kind.STATUS_CHANGED), "es")
    english = compose(context(Kind.STATUS_CHANGED), "en")
    assert spanish.title == "SD-1042 ahora está En progreso"
    assert english.title == "SD-1042 is now In progress"
    assert "de Pendiente a En progreso" in spanish.body
    assert "from Pending to In progress" in english.body


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("es", "es"),
        ("en", "en"),
        ("en-GB", "en"),
        ("es_MX", "es"),
        ("fr", "es"),
        ("", "es"),
        (None, "es"),
    ],
)
def test_unknown_languages_fall_back_to_spanish(given: str | None, used: str) -> None:
    assert language_for(given) == used


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("kind", Kind.ALL)
@pytest.mark.parametrize(
    "title",
    [
        "Corto",
        "Título con acentos: la impresora del área de recepción no imprime en color " * 3,
        "A" * 400,
        "Emoji 🚀 in the title " * 10,
    ],
)
def test_sms_fit_in_two_segments(language: str, kind: str, title: str) -> None:
    sms = compose(context(kind, title=title), language, sms=True).sms
    assert sms_text.segments(sms) <= 2, (sms_text.units(sms), sms)
    assert sms.endswith("/tickets/42/")
    assert "SD-1042" in sms


def test_segments_count_like_carriers() -> None:
    assert sms_text.segments("a" * 160) == 1
    assert sms_text.segments("a" * 161) == 2
    assert sms_text.segments("a" * 306) == 2
    assert sms_text.segments("á" * 70) == 1
    assert sms_text.segments("á" * 71) == 2
    assert sms_text.segments("€" * 80) == 1  # two septets each
    assert sms_text.is_gsm("Pendiente, En progreso, Resuelto: ¿ñ?")
    assert not sms_text.is_gsm("tóner")


def test_spanish_sms_stay_gsm_when_the_title_does() -> None:
    sms = compose(context(Kind.STATUS_CHANGED, title="Impresora sin toner"), "es", sms=True).sms
    assert sms_text.is_gsm(sms), sms
    assert sms_text.segments(sms) == 1


def test_long_comments_are_cut() -> None:
    composed = compose(
        context(Kind.COMMENTED, comment={"body": "palabra " * 100, "internal": False}), "en"
    )
    assert composed.comment.endswith("...")
    assert len(composed.comment) <= 200


ISSUE_18_CONTEXT: Final = {
    "team": {"id": "10", "name": "Soporte N1"},
    "from_priority": "high",
    "merged_from": {"id": "43", "number": "SD-1043", "title": "Sigue sin toner"},
}


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("kind", [Kind.TEAM_QUEUE, Kind.PRIORITY_URGENT, Kind.MERGED])
@pytest.mark.parametrize(("title", "gsm"), [("Impresora sin toner", True), ("Sin tóner", False)])
def test_the_sms_of_teams_edits_and_merges_keep_a_short_title_whole(
    language: str, kind: str, title: str, gsm: bool
) -> None:
    """Their templates leave room for a title, and use GSM-7 when the title allows it (one
    segment here; UCS-2 holds 70 characters a segment, so two)."""
    sms = compose(context(kind, title=title, **ISSUE_18_CONTEXT), language, sms=True).sms
    assert f'"{title}"' in sms
    assert sms_text.is_gsm(sms) is gsm, sms
    assert sms_text.segments(sms) == (1 if gsm else 2), sms


@pytest.mark.parametrize(
    ("kind", "language", "title", "body"),
    [
        (
            Kind.TEAM_QUEUE,
            "es",
            "SD-1042 espera en la cola de Soporte N1",
            "El ticket “Impresora sin tóner” está en la cola de Soporte N1 y aún no tiene a "
            "nadie asignado. Estado: En progreso. Prioridad: Alta.",
        ),
        (
            Kind.PRIORITY_URGENT,
            "en",
            "SD-1042 is now urgent",
            "The priority of ticket “Impresora sin tóner”, assigned to you, was raised from "
            "High to High. Status: In progress.",
        ),
        (
            Kind.MERGED,
            "en",
            "Your ticket SD-1043 was merged into SD-1042",
            "Your ticket SD-1043 “Sigue sin toner” was merged into ticket SD-1042 “Impresora "
            "sin tóner”, about the same matter. The conversation continues there: SD-1043 no "
            "longer changes. Status of SD-1042: In progress.",
        ),
    ],
)
def test_teams_edits_and_merges_say_what_happened(
    kind: str, language: str, title: str, body: str
) -> None:
    composed = compose(context(kind, **ISSUE_18_CONTEXT), language)
    assert (composed.title, composed.body) == (title, body)
    assert composed.team == ("Soporte N1" if kind == Kind.TEAM_QUEUE else "")


def test_a_team_without_a_name_is_your_team() -> None:
    composed = compose(context(Kind.TEAM_QUEUE, team={"id": "10", "name": " \n "}), "es")
    assert composed.title == "SD-1042 espera en la cola de tu equipo"
    assert composed.team == ""
