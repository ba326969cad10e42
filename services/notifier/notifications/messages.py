"""What each notification says, in the recipient's language: in-app, email and SMS texts.

Everything is built from a delivery's ``context`` (a JSON-ready dict made from the event
by ``rules.context_for``), so a message can be rendered again at send time in the
recipient's current language.

Every text here is plain text, never HTML: the mail template escapes them in its HTML
part only, while the subject, the text part and the SMS carry them as typed. The ticket
number and title are folded onto one line (``one_line``: control characters and any run
of whitespace, line breaks included, become one space), so a title can never add a header
to a mail's subject; file names lose the direction marks that could make ``exe.pdf`` out
of ``fdp.exe`` as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from notifications import sms_text
from servidesk_shared.vocabulary import PRIORITY_LABELS, STATUS_LABELS

#: How much of a comment the in-app body and the email quote (SMS never carry it).
EXCERPT_LENGTH: Final = 200
#: How much of a team's name a message shows (the SMS only shortens the ticket's title).
TEAM_NAME_LENGTH: Final = 60


class Kind:
    """Why someone is told: one of these per (event, recipient)."""

    CREATED_RECEIPT: Final = "created_receipt"
    CREATED_ALERT: Final = "created_alert"
    STATUS_CHANGED: Final = "status_changed"
    ASSIGNED: Final = "assigned"
    COMMENTED: Final = "commented"
    INTERNAL_NOTE: Final = "internal_note"
    #: A ticket waits, unassigned, in the queue of the recipient's team (issue 18).
    TEAM_QUEUE: Final = "team_queue"
    #: The priority of a ticket assigned to the recipient was raised to urgent.
    PRIORITY_URGENT: Final = "priority_urgent"
    #: The recipient's ticket was merged into another one (told to its client).
    MERGED: Final = "merged"
    #: The client's ticket was resolved: the status change, and "How did we do?" with its
    #: rating links (issue 19; only when the event carries a ``rating_token``).
    RESOLVED_CSAT: Final = "resolved_csat"
    #: The client's ticket waits for their answer (moved to ``waiting``).
    WAITING_ON_CLIENT: Final = "waiting_on_client"
    #: 80 % of an SLA clock's target went by (to the assignee, else the team's people).
    SLA_WARNING: Final = "sla_warning"
    #: An SLA clock's due time passed (to the assignee, else the team's people, and the lead).
    SLA_BREACHED: Final = "sla_breached"
    #: The client rated the recipient's ticket good / bad (bad: the team lead too).
    RATED_GOOD: Final = "rated_good"
    RATED_BAD: Final = "rated_bad"

    ALL: Final = (
        CREATED_RECEIPT,
        CREATED_ALERT,
        STATUS_CHANGED,
        ASSIGNED,
        COMMENTED,
        INTERNAL_NOTE,
        TEAM_QUEUE,
        PRIORITY_URGENT,
        MERGED,
        RESOLVED_CSAT,
        WAITING_ON_CLIENT,
        SLA_WARNING,
        SLA_BREACHED,
        RATED_GOOD,
        RATED_BAD,
    )
    #: Kinds for staff alone: never recorded for someone the directory says is a client.
    STAFF_ONLY: Final = frozenset(
        {
            INTERNAL_NOTE,
            TEAM_QUEUE,
            PRIORITY_URGENT,
            SLA_WARNING,
            SLA_BREACHED,
            RATED_GOOD,
            RATED_BAD,
        }
    )
    #: The channels a kind goes out on besides the in-app feed, each by the recipient's
    #: preferences; a kind not listed here uses both, email and SMS. SLA alerts and a bad
    #: rating are mail and feed (an SMS is for the client's own news); a good rating is
    #: the feed's alone (welcome, but nothing to act on).
    CHANNELS: Final[dict[str, tuple[str, ...]]] = {
        SLA_WARNING: ("email",),
        SLA_BREACHED: ("email",),
        RATED_BAD: ("email",),
        RATED_GOOD: (),
    }

    @classmethod
    def channels(cls, kind: str) -> tuple[str, ...]:
        """The channels besides the feed ``kind`` is sent on (``CHANNELS``)."""
        return cls.CHANNELS.get(kind, ("email", "sms"))


#: Control characters (Unicode's ``Cc``): a line break in a header would start a new one.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Marks that reorder how text is shown (``\u202e`` turns ``fdp.exe`` into ``exe.pdf``).
_DIRECTION_MARKS: Final = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """``text`` as one line of plain text: control characters and runs of whitespace (line
    breaks of any kind included) become one space; no space at either end."""
    return " ".join(_CONTROL.sub(" ", text).split())


def file_name(name: str) -> str:
    """A file name as a mail shows it: on one line, without direction marks."""
    return one_line(_DIRECTION_MARKS.sub("", name)) or "?"


@dataclass(frozen=True)
class FileLine:
    """An attached file as a mail lists it: name, size in bytes, and where to get it."""

    name: str
    size: int
    link: str


@dataclass(frozen=True)
class RatingQuestion:
    """The question "How did we do?" with its two one-click answers and the page that
    takes a comment (web's ``/csat/<token>/``: signed, valid 14 days, no sign-in), in the
    reader's language."""

    question: str
    hint: str
    good_label: str
    good_link: str
    bad_label: str
    bad_link: str
    link: str

    def as_text(self) -> str:
        """The question as plain text lines (the in-app feed's body ends with it)."""
        return (
            f"{self.question} {self.hint}\n"
            f"{self.good_label}: {self.good_link}\n"
            f"{self.bad_label}: {self.bad_link}"
        )


@dataclass(frozen=True)
class Composed:
    title: str
    body: str
    sms: str
    ticket_title: str
    link: str
    status: str
    priority: str
    comment: str
    #: The ticket's number (``SD-123``) on one line: the subject's tag is ``[SD-123]``.
    number: str = ""
    #: The files sent with what the message is about (the new ticket, the comment).
    attachments: tuple[FileLine, ...] = ()
    #: What answering the mail does (it goes to ``SUPPORT_EMAIL``, onto the ticket).
    reply_hint: str = ""
    #: The team whose queue the ticket waits in (``team_queue`` messages), on one line.
    team: str = ""
    #: "How did we do?" (``resolved_csat`` messages that carry a rating token).
    rating: RatingQuestion | None = None

    @property
    def in_app_body(self) -> str:
        """The feed entry's text: the body, and the rating question when there is one."""
        if self.rating is None:
            return self.body
        return f"{self.body}\n\n{self.rating.as_text()}"


def language_for(language: str | None) -> str:
    """``language`` if Servidesk speaks it (``es-MX`` counts as ``es``), else the default."""
    known = {code for code, _name in settings.LANGUAGES}
    code = (language or "").lower().split("-")[0].split("_")[0]
    return code if code in known else str(settings.LANGUAGE_CODE)


def ticket_link(ticket_id: object) -> str:
    return f"{str(settings.WEB_BASE_URL).rstrip('/')}/tickets/{quote(str(ticket_id), safe='')}/"


def csat_link(token: str, rating: str | None = None) -> str:
    """Web's rating page for ``token`` (``/csat/<token>/``), or one of its one-click
    answers (``?rating=good``); the page needs no sign-in: the signed token is the key."""
    link = f"{str(settings.WEB_BASE_URL).rstrip('/')}/csat/{quote(token, safe=':')}/"
    return f"{link}?rating={rating}" if rating else link


def due_time(value: object) -> str:
    """An ISO-8601 due time as the reader's language writes a date and time, in
    ``TIME_ZONE`` and naming it (``7 de diciembre de 2026 a las 19:30 (CET)``); ``""``
    for anything that is not one."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if timezone.is_naive(when):
        return ""
    local = timezone.localtime(when)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


def file_link(ticket_id: object, attachment_id: object) -> str:
    """The browser UI's download of one file (``/tickets/<id>/attachments/<id>/``): it asks
    the reader to sign in and fetches the file with their own rights. An API download link
    would need a bearer token, which a click in a mail program does not carry."""
    return f"{ticket_link(ticket_id)}attachments/{quote(str(attachment_id), safe='')}/"


def file_lines(context: dict[str, Any]) -> tuple[FileLine, ...]:
    """The files of ``context`` (``rules.context_for`` chose them), each with its link."""
    ticket_id = context["ticket"]["id"]
    return tuple(
        FileLine(
            name=file_name(str(item.get("filename", ""))),
            size=int(item.get("size") or 0),
            link=file_link(ticket_id, item.get("id", "")),
        )
        for item in context.get("attachments", ())
    )


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 3].rstrip() + "..."


def compose(context: dict[str, Any], language: str | None, *, sms: bool = False) -> Composed:
    """The texts of one notification in ``language`` (falling back to the default).

    The SMS text (fitted to two segments) only when ``sms`` asks for it: it is the one
    part that costs something to make.
    """
    with translation.override(language_for(language)):
        return _compose(context, with_sms=sms)


@dataclass(frozen=True)
class _Texts:
    """What one kind says: its headline, body and SMS template, the names the SMS template
    is filled with, and what answering the mail does when the kind says it itself."""

    headline: str
    body: str
    sms: str
    names: dict[str, str]
    reply_hint: str = ""


def _created_receipt(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("We received your ticket %(number)s") % names,
        body=_(
            "Your ticket “%(title)s” was registered as %(number)s. Its status is "
            "%(status)s; we will let you know when it changes."
        )
        % names,
        sms=_('Servidesk: we received your ticket %(number)s "%(title)s". Status: %(status)s.'),
        names=names,
    )


def _created_alert(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("New ticket %(number)s assigned to you") % names,
        body=_("Ticket “%(title)s” was opened and assigned to you. Status: %(status)s.") % names,
        sms=_('Servidesk: new ticket %(number)s "%(title)s" assigned to you. Status: %(status)s.'),
        names=names,
    )


def _status_changed(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    old = context.get("from_status", "")
    names_from = {**names, "old": str(STATUS_LABELS.get(old, old))}
    return _Texts(
        headline=_("%(number)s is now %(status)s") % names,
        body=_("The status of ticket “%(title)s” changed from %(old)s to %(status)s.") % names_from,
        sms=_('Servidesk: ticket %(number)s "%(title)s" is now %(status)s.'),
        names=names,
    )


def _assigned(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("%(number)s was assigned to you") % names,
        body=_("Ticket “%(title)s” is now assigned to you. Status: %(status)s.") % names,
        sms=_('Servidesk: ticket %(number)s "%(title)s" was assigned to you. Status: %(status)s.'),
        names=names,
    )


def _commented(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("New reply on %(number)s") % names,
        body=_("There is a new reply on ticket “%(title)s”: %(comment)s") % names,
        sms=_('Servidesk: new reply on ticket %(number)s "%(title)s". Status: %(status)s.'),
        names=names,
    )


def _internal_note(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("New internal note on %(number)s") % names,
        body=_("An internal note was added to ticket “%(title)s”: %(comment)s") % names,
        sms=_('Servidesk: new internal note on ticket %(number)s "%(title)s". Status: %(status)s.'),
        names=names,
        reply_hint=_(
            "Careful: a reply to this message is added to ticket %(number)s as a public "
            "reply, which the client can read."
        )
        % names,
    )


def _team_queue(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    names = {**names, "team": names["team"] or _("your team")}
    return _Texts(
        headline=_("%(number)s is waiting in the queue of %(team)s") % names,
        body=_(
            "Ticket “%(title)s” is in the queue of %(team)s and nobody is assigned to it "
            "yet. Status: %(status)s. Priority: %(priority)s."
        )
        % names,
        sms=_(
            'Servidesk: ticket %(number)s "%(title)s" is waiting in the queue of %(team)s. '
            "Status: %(status)s."
        ),
        names=names,
    )


def _priority_urgent(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    old = context.get("from_priority", "")
    names_from = {**names, "old": str(PRIORITY_LABELS.get(old, old))}
    return _Texts(
        headline=_("%(number)s is now urgent") % names,
        body=_(
            "The priority of ticket “%(title)s”, assigned to you, was raised from %(old)s "
            "to %(priority)s. Status: %(status)s."
        )
        % names_from,
        sms=_(
            'Servidesk: ticket %(number)s "%(title)s", assigned to you, is now %(priority)s. '
            "Status: %(status)s."
        ),
        names=names,
    )


def _merged(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    merged = context.get("merged_from") or {}
    if str(merged.get("id", "")) == str(context["ticket"]["id"]):
        # Merged into another client's ticket: the message is about this one alone.
        return _Texts(
            headline=_("Your ticket %(number)s was merged into another ticket") % names,
            body=_(
                "Your ticket “%(title)s” (%(number)s) was merged into another ticket about "
                "the same matter, where our team keeps working on it. %(number)s no "
                "longer changes. Status: %(status)s."
            )
            % names,
            sms=_(
                'Servidesk: your ticket %(number)s "%(title)s" was merged into another ticket. '
                "Status: %(status)s."
            ),
            names=names,
            reply_hint=_(
                "Ticket %(number)s no longer changes: to tell us something new, write to us."
            )
            % names,
        )
    names = {
        **names,
        "merged": one_line(str(merged.get("number", ""))) or "?",
        "merged_title": one_line(str(merged.get("title", ""))),
    }
    return _Texts(
        headline=_("Your ticket %(merged)s was merged into %(number)s") % names,
        body=_(
            "Your ticket %(merged)s “%(merged_title)s” was merged into ticket "
            "%(number)s “%(title)s”, about the same matter. The conversation continues "
            "there: %(merged)s no longer changes. Status of %(number)s: %(status)s."
        )
        % names,
        sms=_(
            'Servidesk: your ticket %(merged)s was merged into %(number)s "%(title)s". '
            "Status: %(status)s."
        ),
        names=names,
    )


def _resolved_csat(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    texts = _status_changed(context, names)
    return _Texts(
        headline=texts.headline,
        body=texts.body,
        sms=texts.sms,
        names=texts.names,
        reply_hint=_(
            "Is something still not right? Reply to this message and we will take it up again."
        ),
    )


def _waiting_on_client(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    return _Texts(
        headline=_("%(number)s is waiting for your answer") % names,
        body=_(
            "We need something from you to go on with your ticket “%(title)s”: please read "
            "our last reply on the ticket and answer it (replying to this message will do). "
            "Until then its status is %(status)s."
        )
        % names,
        sms=_(
            'Servidesk: ticket %(number)s "%(title)s" is waiting for your answer. '
            "Status: %(status)s."
        ),
        names=names,
    )


def _sla(context: dict[str, Any], names: dict[str, str]) -> tuple[dict[str, str], bool, str]:
    """The names of an SLA alert (``due``: the due time in the reader's language), whether
    it is about the first response (else the resolution), and what is said of who holds
    the ticket (nobody, when it waits in the team's queue)."""
    sla = context.get("sla") or {}
    names = {**names, "due": due_time(sla.get("due_at")) or "?"}
    nobody = "" if sla.get("assigned", True) else " " + _("Nobody is assigned to it yet.")
    return names, sla.get("clock") == "first_response", nobody


def _sla_warning(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    names, first_response, nobody = _sla(context, names)
    if first_response:
        headline = _("%(number)s: the first response is due soon") % names
        body = _("The first response to ticket “%(title)s” is due by %(due)s.") % names
    else:
        headline = _("%(number)s: the resolution is due soon") % names
        body = _("Ticket “%(title)s” is due to be resolved by %(due)s.") % names
    return _Texts(
        headline=headline,
        body=body + nobody + " " + _("Status: %(status)s. Priority: %(priority)s.") % names,
        sms=_(
            'Servidesk: ticket %(number)s "%(title)s" is close to its target. Status: %(status)s.'
        ),
        names=names,
    )


def _escalation(codes: object, names: dict[str, str]) -> str:
    """What a team's escalation rule did at a breach (``ticket.sla_breached``'s
    ``escalation`` codes) as one sentence; ``""`` when it did nothing this text knows."""
    done = set(codes) if isinstance(codes, list | tuple) else set()
    raised, reassigned = "raised_priority" in done, "reassigned_to_lead" in done
    if raised and reassigned:
        return (
            _(
                "The team's escalation rule raised its priority to %(priority)s and assigned "
                "it to the team's lead."
            )
            % names
        )
    if raised:
        return _("The team's escalation rule raised its priority to %(priority)s.") % names
    if reassigned:
        return _("The team's escalation rule assigned it to the team's lead.")
    return ""


def _sla_breached(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    names, first_response, nobody = _sla(context, names)
    if first_response:
        headline = _("%(number)s missed its first response target") % names
        body = (
            _(
                "The first response to ticket “%(title)s” was due by %(due)s and has not been "
                "given yet."
            )
            % names
        )
    else:
        headline = _("%(number)s missed its resolution target") % names
        body = (
            _("Ticket “%(title)s” was due to be resolved by %(due)s and is not resolved yet.")
            % names
        )
    done = _escalation((context.get("sla") or {}).get("escalation"), names)
    return _Texts(
        headline=headline,
        body=" ".join(
            filter(
                None,
                [body + nobody, done, _("Status: %(status)s. Priority: %(priority)s.") % names],
            )
        ),
        sms=_('Servidesk: ticket %(number)s "%(title)s" missed its target. Status: %(status)s.'),
        names=names,
    )


def rating_label(rating: object) -> str:
    """A rating's label in the active language (a one-click answer, a rating told to
    staff): Good or Bad; ``""`` for anything else."""
    if rating == "good":
        return pgettext("rating", "Good")
    if rating == "bad":
        return pgettext("rating", "Bad")
    return ""


def _rated(context: dict[str, Any], names: dict[str, str]) -> _Texts:
    rated = context.get("rated") or {}
    rating = rated.get("rating") or ("bad" if context["kind"] == Kind.RATED_BAD else "good")
    names = {**names, "rating": rating_label(rating)}
    body = _("The client rated ticket “%(title)s”: %(rating)s.") % names
    previous = rated.get("previous_rating")
    if previous and previous != rating:
        body += " " + _("(Their answer before: %(previous)s.)") % {
            "previous": rating_label(previous)
        }
    if names["comment"]:
        body += " " + _("Their comment: %(comment)s") % names
    return _Texts(
        headline=(
            _("Bad rating for %(number)s") if rating == "bad" else _("Good rating for %(number)s")
        )
        % names,
        body=body,
        sms=_(
            'Servidesk: the client rated ticket %(number)s "%(title)s": %(rating)s. '
            "Status: %(status)s."
        ),
        names=names,
    )


#: What each kind says (``Kind``: one entry per kind).
_TEXTS: Final[dict[str, Callable[[dict[str, Any], dict[str, str]], _Texts]]] = {
    Kind.CREATED_RECEIPT: _created_receipt,
    Kind.CREATED_ALERT: _created_alert,
    Kind.STATUS_CHANGED: _status_changed,
    Kind.ASSIGNED: _assigned,
    Kind.COMMENTED: _commented,
    Kind.INTERNAL_NOTE: _internal_note,
    Kind.TEAM_QUEUE: _team_queue,
    Kind.PRIORITY_URGENT: _priority_urgent,
    Kind.MERGED: _merged,
    Kind.RESOLVED_CSAT: _resolved_csat,
    Kind.WAITING_ON_CLIENT: _waiting_on_client,
    Kind.SLA_WARNING: _sla_warning,
    Kind.SLA_BREACHED: _sla_breached,
    Kind.RATED_GOOD: _rated,
    Kind.RATED_BAD: _rated,
}

#: How long a rating link works (tickets' signed token: ``rating_token``).
CSAT_LINK_DAYS: Final = 14


def _rating_question(context: dict[str, Any]) -> RatingQuestion | None:
    token = (context.get("csat") or {}).get("token")
    if context["kind"] != Kind.RESOLVED_CSAT or not isinstance(token, str) or not token:
        return None
    return RatingQuestion(
        question=_("How did we do?"),
        hint=_(
            "One click is enough, no sign-in needed; you can add a comment on the page that "
            "opens. The links work for %(days)d days."
        )
        % {"days": CSAT_LINK_DAYS},
        good_label=rating_label("good"),
        good_link=csat_link(token, "good"),
        bad_label=rating_label("bad"),
        bad_link=csat_link(token, "bad"),
        link=csat_link(token),
    )


def _compose(context: dict[str, Any], *, with_sms: bool) -> Composed:
    kind = context["kind"]
    texts_of = _TEXTS.get(kind)
    if texts_of is None:
        raise ValueError(f"unknown notification kind {kind!r}")
    ticket = context["ticket"]
    number, title = one_line(str(ticket["number"])), one_line(str(ticket["title"]))
    # A status change names the status it moved to (the snapshot agrees, normally).
    current = context.get("to_status") or ticket["status"]
    status = str(STATUS_LABELS.get(current, current))
    priority = str(PRIORITY_LABELS.get(ticket.get("priority", ""), ticket.get("priority", "")))
    link = ticket_link(ticket["id"])
    comment = excerpt(
        one_line(str((context.get("rated") or {}).get("comment", "")))
        or context.get("comment", {}).get("body", "")
    )
    team = excerpt(one_line(str(context.get("team", {}).get("name", ""))), TEAM_NAME_LENGTH)
    names = {
        "number": number,
        "title": title,
        "status": status,
        "priority": priority,
        "comment": comment,
        "team": team,
    }
    texts = texts_of(context, names)
    reply_hint = texts.reply_hint or (
        _("Reply to this message to add your answer to ticket %(number)s.") % names
    )
    return Composed(
        title=texts.headline,
        body=texts.body,
        ticket_title=title,
        sms=sms_text.fit(texts.sms, texts.names, link) if with_sms else "",
        link=link,
        status=status,
        priority=priority,
        comment=comment,
        number=number,
        attachments=file_lines(context),
        reply_hint=reply_hint,
        team=team if kind == Kind.TEAM_QUEUE else "",
        rating=_rating_question(context),
    )


# --- reports (issue 22) ------------------------------------------------------------------


@dataclass(frozen=True)
class ReportReady:
    """The feed entry of a finished report export (``report.export_ready``)."""

    title: str
    body: str


def report_link(download_path: str) -> str:
    """Web's page of the export (``/reports/exports/<id>/``) as an absolute link."""
    return f"{str(settings.WEB_BASE_URL).rstrip('/')}/{download_path.lstrip('/')}"


def report_ready(
    *, export_format: str, download_path: str, expires_at: datetime, language: str | None
) -> ReportReady:
    """What the feed says when a report export is ready, in ``language``."""
    with translation.override(language_for(language)):
        until = timezone.localtime(expires_at)
        body = _("Your %(format)s report can be downloaded until %(until)s: %(link)s") % {
            "format": export_format.upper(),
            "until": formats.date_format(until, "DATETIME_FORMAT"),
            "link": report_link(download_path),
        }
        return ReportReady(title=_("Your report is ready"), body=body)
