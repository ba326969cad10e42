"""One raw mail (RFC 5322 bytes) read into what the mail channel needs, trusting nothing.

``parse(raw)`` answers a :class:`ParsedMail` or raises :class:`ParseError` when the
message cannot be used at all (no sender address); everything else is best effort:
unknown charsets decode with replacement characters, malformed headers are read as far
as they go, and every text handed back is free of NUL, other control characters and
lone surrogates (PostgreSQL refuses them)::

    mail = parse(raw)
    if mail.auto_reason is None:
        ticket_id = ticket_id_from_references(mail.references)
        number = ticket_number_from_subject(mail.subject)  # "SD-123", as Ticket.reference

- ``body`` is the text/plain part, or the HTML part turned into plain text (scripts,
  styles and head dropped, blocks as line breaks, entities decoded, no markup left);
  ``reply_body`` is that text without the quoted conversation and the signature.
- ``auto_reason`` says why a message must be neither answered nor turned into a ticket
  (``"bounce"``, ``"delivery-report"`` (no failure: a delay), ``"report"``, ``"mailer-daemon"``,
  ``"auto-submitted"``, ``"auto-reply"``, ``"precedence-<value>"``, ``"mailing-list"``,
  ``"null-return-path"``); ``bounce`` carries a failed delivery's details.
- Message ids (``message_id``, ``references``, ``Bounce.original_message_id``) are
  ``<...>`` with no whitespace, at most :data:`MESSAGE_ID_MAX_LENGTH` characters.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser, Parser
from email.utils import collapse_rfc2231_value
from html import unescape
from typing import Final

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag
from tickets.models import NUMBER_PREFIX, TITLE_MAX_LENGTH

logger = logging.getLogger(__name__)

MESSAGE_ID_MAX_LENGTH: Final = 255
SUBJECT_MAX_LENGTH: Final = TITLE_MAX_LENGTH
NAME_MAX_LENGTH: Final = 150
ADDRESS_MAX_LENGTH: Final = 254
FILENAME_MAX_LENGTH: Final = 255
BOUNCE_REASON_MAX_LENGTH: Final = 500
#: A long thread's References: the ids kept (the first, the root, and the latest).
REFERENCES_MAX_COUNT: Final = 50
#: Nesting deeper than this is not a mail program's work; deeper parts are ignored.
MIME_MAX_DEPTH: Final = 30
#: Quotes nested deeper than this get no more ``>`` marks in HTML turned into text.
QUOTE_MAX_DEPTH: Final = 10
#: The largest id a ``bigint`` primary key holds.
_BIGINT_MAX: Final = 2**63 - 1

_PARSER: Final = BytesParser(policy=policy.default)


class ParseError(ValueError):
    """The message cannot be used (the reason is the message, for the log)."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content: bytes
    #: As the mail declares it (lower case ``type/subtype``); sniff the content before use.
    content_type: str


@dataclass(frozen=True)
class Bounce:
    #: The Message-ID of the mail that could not be delivered, when the report returns it.
    original_message_id: str | None
    #: The address delivery failed for (empty when the report does not say).
    recipient: str
    reason: str


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    body: str
    reply_body: str
    references: tuple[str, ...]
    attachments: tuple[MailAttachment, ...]
    auto_reason: str | None
    bounce: Bounce | None
    language: str | None


def parse(raw: bytes) -> ParsedMail:
    """The mail in ``raw``; :class:`ParseError` when it has no usable sender address."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise ParseError("empty message")
    raw = bytes(raw)
    try:
        return _parse(raw)
    except ParseError:
        raise
    except (RecursionError, MemoryError):
        raise ParseError("message nested too deeply or too large") from None
    except Exception as exc:
        # Hostile input must not stop the mailbox: the message goes to the failed folder.
        logger.warning("unparsable mail", exc_info=True)
        raise ParseError(f"unparsable message ({type(exc).__name__})") from exc


def ticket_id_from_references(references: Iterable[str]) -> int | None:
    """The ticket id in the first ``<sd.<ticket id>.<anything>@host>`` of ``references``."""
    for reference in references:
        match = _SERVIDESK_MESSAGE_ID.fullmatch(reference.strip())
        if match:
            ticket_id = int(match.group(1))
            if 0 < ticket_id <= _BIGINT_MAX:
                return ticket_id
    return None


def ticket_number_from_subject(subject: str) -> str | None:
    """The ticket reference (``SD-123``, as ``Ticket.reference``) tagged ``[SD-123]`` in
    ``subject``, or None."""
    match = _SUBJECT_TAG.search(subject)
    if match is None:
        return None
    number = int(match.group(1))
    if not 0 < number <= _BIGINT_MAX:
        return None
    return f"{NUMBER_PREFIX}{number}"


_SERVIDESK_MESSAGE_ID: Final = re.compile(r"<sd\.(\d{1,19})\.[^<>@\s]*@[^<>@\s]+>", re.IGNORECASE)
_SUBJECT_TAG: Final = re.compile(
    rf"\[\s*{re.escape(NUMBER_PREFIX.rstrip('-'))}\s*-\s*0*(\d{{1,19}})\s*\]", re.IGNORECASE
)


# --- text hygiene -------------------------------------------------------------------------

_ESCAPED_BYTES: Final = re.compile(r"[\udc80-\udcff]+")
_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")
# C0 and C1 controls and DEL; tab and line feed survive in multi-line text.
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS: Final = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_WHITESPACE: Final = re.compile(r"\s+")


def _repair_escaped_bytes(text: str) -> str:
    """Raw 8-bit bytes the email package kept as surrogate escapes, decoded (UTF-8, else
    Windows-1252, the two a mail program sends undeclared)."""

    def decode(match: re.Match[str]) -> str:
        data = match.group().encode("utf-8", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")

    return _SURROGATES.sub("\ufffd", _ESCAPED_BYTES.sub(decode, text))


def clean_text(text: str) -> str:
    """Multi-line text: ``\\n`` line breaks, no control characters, no trailing spaces."""
    text = _repair_escaped_bytes(text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def clean_line(text: str, max_length: int) -> str:
    """One line: line breaks and tabs as spaces, other control characters removed, runs of
    whitespace a single space, bounded."""
    text = _repair_escaped_bytes(text)
    text = _LINE_BREAKS.sub(" ", text).replace("\n", " ").replace("\t", " ")
    text = _WHITESPACE.sub(" ", _CONTROLS.sub("", text)).strip()
    return text[:max_length].rstrip()


# --- headers ------------------------------------------------------------------------------


def _header(message: Message, name: str) -> str | None:
    """A header's decoded value, or None; a header the parser chokes on is read raw."""
    try:
        value = _parsed_header(message, name)
    except Exception:  # the header parser's own errors on hostile input: read it raw
        value = _raw_header(message, name)
        if value is None:
            return None
        try:
            value = str(make_header(decode_header(value)))
        except Exception:  # undecodable encoded words: the raw text is the best we have
            logger.debug("undecodable header %s", name)
    if value is None:
        return None
    return _repair_escaped_bytes(str(value))


def _parsed_header(message: Message, name: str) -> object:
    """The policy's header object (or the plain value of a compat32 message); raw 8-bit
    text, which the parser would turn into replacement characters, decoded first."""
    raw = _raw_header(message, name)
    if raw is None:
        return None
    if _ESCAPED_BYTES.search(raw):
        unfolded = re.sub(r"\r?\n", "", _repair_escaped_bytes(raw))
        return policy.default.header_factory(name, unfolded)
    return message.get(name)


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _has_header(message: Message, name: str) -> bool:
    return any(key.lower() == name.lower() for key in message.keys())  # noqa: SIM118


_MESSAGE_ID_PART: Final = re.compile(r"<([^<>\s]+)>")
_BARE_MESSAGE_ID: Final = re.compile(r"[^<>\s@]+@[^<>\s@]+")


def _message_ids(value: str | None) -> list[str]:
    """The ``<...>`` ids in a Message-ID, In-Reply-To or References value, in order."""
    if not value:
        return []
    value = _CONTROLS.sub("", value)
    ids = [f"<{part}>" for part in _MESSAGE_ID_PART.findall(value)]
    if not ids:
        # Some programs drop the angle brackets of a lone id.
        ids = [f"<{part}>" for part in _BARE_MESSAGE_ID.findall(value)[:1]]
    return [message_id for message_id in ids if len(message_id) <= MESSAGE_ID_MAX_LENGTH]


def _message_id(message: Message, raw: bytes) -> str:
    ids = _message_ids(_header(message, "Message-ID"))
    if ids:
        return ids[0]
    # Stable, so that the same message fetched twice is still recognised as applied.
    return f"<generated.{hashlib.sha256(raw).hexdigest()}@servidesk.invalid>"


def _references(message: Message) -> tuple[str, ...]:
    in_reply_to = _message_ids(_header(message, "In-Reply-To"))
    references = _message_ids(_header(message, "References"))
    if len(references) > REFERENCES_MAX_COUNT:
        references = references[:1] + references[-(REFERENCES_MAX_COUNT - 1) :]
    return tuple(dict.fromkeys(in_reply_to + references))


_ADDRESS: Final = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")


def _sender(message: Message) -> tuple[str, str]:
    """The From address (lower case) and display name; ParseError when there is none."""
    try:
        header = _parsed_header(message, "From")
        addresses: tuple[Address, ...] = (
            header.addresses if isinstance(header, AddressHeader) else ()
        )
    except Exception as exc:  # the header parser's own errors on hostile input
        raise ParseError("unreadable From header") from exc
    for address in addresses:
        addr_spec = clean_line(address.addr_spec, ADDRESS_MAX_LENGTH + 1).lower()
        if len(addr_spec) <= ADDRESS_MAX_LENGTH and _ADDRESS.fullmatch(addr_spec):
            return addr_spec, clean_line(address.display_name or "", NAME_MAX_LENGTH)
    raise ParseError("no sender address in From")


_LANGUAGE_TAG: Final = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8})*")


def _language(*parts: Message | None) -> str | None:
    """The first language tag of the first Content-Language found, lower case."""
    for part in parts:
        if part is None:
            continue
        value = _header(part, "Content-Language")
        if not value:
            continue
        tag = value.split(",")[0].strip().lower()
        if _LANGUAGE_TAG.fullmatch(tag):
            return tag
    return None


# --- MIME structure -----------------------------------------------------------------------


def _leaf_parts(message: Message) -> Iterator[Message]:
    """Every non-multipart part in order; a ``message/rfc822`` part is one leaf."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            children = part.get_payload()
            if depth < MIME_MAX_DEPTH and isinstance(children, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
                )
        else:
            yield part


def _decoded_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset, read as browsers read them: undeclared or "ASCII"
    (8-bit text labelled so is common) as UTF-8, else Windows-1252; Latin-1 as its superset
    Windows-1252; an unknown or non-text codec as UTF-8 with replacement characters."""
    try:
        codec = codecs.lookup(charset).name if charset else "ascii"
    except (LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", "replace")
    if codec == "ascii":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")
    if codec == "iso8859-1":
        codec = "cp1252"
    try:
        return data.decode(codec, "replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", "replace")


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # a malformed charset parameter
        return None


def _part_text(part: Message) -> str:
    text = _decode_text(_decoded_bytes(part), _charset(part))
    if _param(part, "format") == "flowed":
        text = _unflow(text, delsp=_param(part, "delsp") == "yes")
    return text


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter, lower case ("" when absent or malformed)."""
    try:
        value = part.get_param(name)
    except Exception:  # a malformed Content-Type
        return ""
    if isinstance(value, tuple):
        value = collapse_rfc2231_value(value)
    return value.strip().lower() if isinstance(value, str) else ""


def _unflow(text: str, *, delsp: bool) -> str:
    """format=flowed text (RFC 3676) with its soft line breaks joined."""
    lines: list[str] = []
    for line in _LINE_BREAKS.sub("\n", text).split("\n"):
        quotes = _quote_depth(line)
        content = line[quotes:]
        content = content.removeprefix(" ")  # space-stuffing
        if (
            lines
            and lines[-1].endswith(" ")
            and lines[-1] != "-- "
            and _quote_depth(lines[-1]) == quotes
        ):
            previous = lines.pop()
            previous = previous[:-1] if delsp else previous
            lines.append(previous + content)
        else:
            lines.append(">" * quotes + (" " if quotes else "") + content)
    return "\n".join(lines)


def _quote_depth(line: str) -> int:
    return len(line) - len(line.lstrip(">"))


def _bodies(message: Message) -> tuple[Message | None, Message | None]:
    """The text/plain and text/html parts that are the message's body (either may be None)."""
    if not isinstance(message, EmailMessage):
        return None, None
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return plain, html


def _body(plain: Message | None, html: Message | None) -> str:
    text = clean_text(_part_text(plain)) if plain is not None else ""
    if not text.strip() and html is not None:
        # Some programs send an empty text alternative next to the real HTML.
        return html_to_text(_part_text(html))
    return text


# --- HTML to text -------------------------------------------------------------------------

# fmt: off
_DROPPED_TAGS: Final = (
    "head", "script", "style", "title", "template", "noscript", "iframe", "object", "embed",
    "svg", "math", "canvas", "audio", "video", "select", "datalist",
)
_BLOCK_TAGS: Final = (
    "address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tr",
    "ul",
)
# fmt: on
_HTML_WHITESPACE: Final = re.compile(r"[ \t\n\r\f]+")


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: no markup, no script or style, entities decoded, block
    elements on lines of their own, quoted (``<blockquote>``) text prefixed with ``>``."""
    if "<" not in html:
        # No markup at all (and Beautiful Soup would warn that it looks like a URL or a file
        # name): only entities and whitespace to read.
        return clean_text(_quote_lines(_HTML_WHITESPACE.sub(" ", unescape(html))))
    text = "".join(_html_chunks(BeautifulSoup(html, "html.parser")))
    return clean_text(_quote_lines(text))


# Where a blockquote opens and closes in the text being built: private-use characters,
# removed from the mail's own text first.
_QUOTE_OPEN: Final = "\ue000"
_QUOTE_CLOSE: Final = "\ue001"
_TAG_CHUNKS: Final = {
    **dict.fromkeys(_BLOCK_TAGS, ("\n", "\n")),
    "blockquote": (f"\n{_QUOTE_OPEN}\n", f"\n{_QUOTE_CLOSE}\n"),
    "li": ("\n- ", "\n"),
    "td": ("", " "),
    "th": ("", " "),
}


def _html_chunks(root: Tag) -> Iterator[str]:
    """The text of ``root`` in document order, with line breaks where blocks begin and end.

    Walked with a stack of its own, not by rewriting the tree (each insertion into a long
    list of siblings scans it) nor by recursion (unclosed tags nest deeply)."""
    stack: list[tuple[PageElement | str, bool]] = [(root, False)]
    while stack:
        item, in_pre = stack.pop()
        if isinstance(item, PreformattedString):  # comments, doctypes, CDATA: not text
            continue
        if isinstance(item, NavigableString):
            text = str(item).replace(_QUOTE_OPEN, "").replace(_QUOTE_CLOSE, "")
            yield text if in_pre else _HTML_WHITESPACE.sub(" ", text)
        elif isinstance(item, str):  # a closing chunk, pushed below
            yield item
        elif isinstance(item, Tag) and item.name not in _DROPPED_TAGS:
            if item.name == "br":
                yield "\n"
                continue
            opening, closing = _TAG_CHUNKS.get(item.name, ("", ""))
            yield opening
            stack.append((closing, in_pre))
            inner_pre = in_pre or item.name == "pre"
            stack.extend((child, inner_pre) for child in reversed(item.contents))


def _quote_prefix(depth: int) -> str:
    # Bounded: thousands of nested quotes must not multiply the text's size.
    return "> " * min(depth, QUOTE_MAX_DEPTH)


def _quote_lines(text: str) -> str:
    """Lines stripped, each run of blank lines one blank line, and the lines between
    blockquote marks prefixed with one ``>`` per level."""
    lines: list[str] = []
    depth = 0
    previous_depth = 0
    blank = False
    for line in text.split("\n"):
        stripped = line.strip(" \t\xa0")
        if stripped in {_QUOTE_OPEN, _QUOTE_CLOSE}:
            depth = max(0, depth + (1 if stripped == _QUOTE_OPEN else -1))
            blank = True
        elif not stripped:
            blank = True
        else:
            if blank and lines:
                lines.append(_quote_prefix(min(depth, previous_depth)).rstrip())
            lines.append(f"{_quote_prefix(depth)}{stripped}")
            previous_depth, blank = depth, False
    return "\n".join(lines)


# --- quoted conversation and signature ----------------------------------------------------

_QUOTE_HEADER_START: Final = re.compile(r"(?:On|El)\s", re.IGNORECASE)
_QUOTE_HEADER_END: Final = re.compile(r".*\b(?:wrote|escribi[oó])\s*:\s*", re.IGNORECASE)
_ORIGINAL_MESSAGE: Final = re.compile(
    r"-{2,}\s*(?:Original Message|Mensaje original)\s*-{2,}", re.IGNORECASE
)
_OUTLOOK_FROM: Final = re.compile(r"[*_]*(?:From|De)\s*:", re.IGNORECASE)
_OUTLOOK_SENT: Final = re.compile(r"[*_]*(?:Sent|Enviado(?: el)?|Date|Fecha)\s*:", re.IGNORECASE)
_OUTLOOK_SEPARATOR: Final = re.compile(r"_{10,}")
_SENT_FROM_DEVICE: Final = re.compile(
    r"(?:Sent from (?:my|Outlook|Mail|Yahoo)|Get Outlook for|Enviado desde (?:mi|Outlook|Correo"
    r"|Yahoo)|Obtener Outlook para)\b.{0,40}",
    re.IGNORECASE,
)
_HEADER_MAX_LENGTH: Final = 300
_OUTLOOK_BLOCK_LINES: Final = 4


def strip_quoted_reply(body: str) -> str:
    """``body`` up to the first marker of quoted conversation or signature: a ``>`` line,
    an "On … wrote:" / "El … escribió:" header (also wrapped over two lines), Outlook's
    "-----Original Message-----" / "-----Mensaje original-----" or "From:/De: …
    Sent:/Enviado: …" block, a ``-- `` signature delimiter or a "Sent from my …" line.
    The whole body when nothing would be left."""
    lines = body.split("\n")
    for index in range(len(lines)):
        if _starts_quote_or_signature(lines, index):
            reply = "\n".join(lines[:index]).strip()
            return reply or body.strip()
    return body.strip()


def _starts_quote_or_signature(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    following = [
        candidate.strip() for candidate in lines[index + 1 : index + 1 + _OUTLOOK_BLOCK_LINES]
    ]
    if line.startswith(">") or lines[index].rstrip() == "--":
        return True
    if _ORIGINAL_MESSAGE.fullmatch(line) or _SENT_FROM_DEVICE.fullmatch(line):
        return True
    if _is_quote_header(line, following[0] if following else ""):
        return True
    if _OUTLOOK_SEPARATOR.fullmatch(line) and following and _OUTLOOK_FROM.match(following[0]):
        return True
    return bool(
        _OUTLOOK_FROM.match(line) and any(_OUTLOOK_SENT.match(candidate) for candidate in following)
    )


def _is_quote_header(line: str, next_line: str) -> bool:
    if not _QUOTE_HEADER_START.match(line) or len(line) > _HEADER_MAX_LENGTH:
        return False
    if _QUOTE_HEADER_END.fullmatch(line):
        return True
    # Gmail wraps a long header line: "On …, Name <" / "name@example.com> wrote:".
    return len(next_line) <= _HEADER_MAX_LENGTH and bool(_QUOTE_HEADER_END.fullmatch(next_line))


# --- attachments --------------------------------------------------------------------------

_CONTENT_TYPE: Final = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
)


def _attachments(
    message: Message, bodies: tuple[Message | None, ...]
) -> tuple[MailAttachment, ...]:
    found: list[MailAttachment] = []
    for part in _leaf_parts(message):
        if any(part is body for body in bodies):
            continue
        attachment = _attachment(part)
        if attachment is not None:
            found.append(attachment)
    return tuple(found)


def _attachment(part: Message) -> MailAttachment | None:
    content_type = part.get_content_type()
    if not _CONTENT_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if content_type == "message/rfc822":
        return _attached_message(part, filename)
    # A named part that is not the body is a file (Apple Mail sends them inline).
    is_attachment = disposition == "attachment" or filename is not None
    if not is_attachment or content_type in _REPORT_PARTS:
        return None
    return MailAttachment(
        filename=filename or _fallback_filename(content_type),
        content=_decoded_bytes(part),
        content_type=content_type,
    )


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:  # a malformed parameter
        return None
    if isinstance(name, tuple):  # an RFC 2231 "name" (get_filename decodes "filename")
        name = collapse_rfc2231_value(name)
    if not isinstance(name, str):
        return None
    if "=?" in name:  # encoded words in a parameter: not the standard, but Outlook's way
        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # undecodable encoded words: keep the name as it came
            logger.debug("undecodable attachment name")
    return safe_filename(name) or None


def safe_filename(name: str) -> str:
    """A file name without any path, control characters or leading dots, bounded in length
    (keeping the extension)."""
    name = clean_line(name, 10 * FILENAME_MAX_LENGTH)
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".").strip()
    if len(name) > FILENAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = f"{stem[: FILENAME_MAX_LENGTH - len(extension) - 1]}.{extension}"
        else:
            name = name[:FILENAME_MAX_LENGTH]
    return name


def _enclosed_message(part: Message) -> Message | None:
    """The message a ``message/rfc822`` part encloses (None when it was not parsed as one,
    e.g. under a transfer encoding)."""
    if not part.is_multipart():
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _message_bytes(message: Message) -> bytes:
    """An enclosed message written back as bytes (empty when the generator cannot)."""
    try:
        return message.as_bytes()
    except Exception:  # headers the generator refuses to write back: try plain text
        logger.debug("enclosed message not writable as bytes", exc_info=True)
    try:
        return message.as_string().encode("utf-8", "replace")
    except Exception:  # nothing to keep
        logger.debug("enclosed message not writable", exc_info=True)
        return b""


def _fallback_filename(content_type: str) -> str:
    return f"attachment{mimetypes.guess_extension(content_type) or '.bin'}"


def _attached_message(part: Message, filename: str | None) -> MailAttachment | None:
    inner = _enclosed_message(part)
    if inner is not None:
        content, subject = _message_bytes(inner), _header(inner, "Subject")
    else:
        content, subject = _decoded_bytes(part), None
    if not content:
        return None
    name = filename or safe_filename(subject or "") or "message"
    if not name.lower().endswith(".eml"):
        name = safe_filename(f"{name}.eml")
    return MailAttachment(filename=name, content=content, content_type="message/rfc822")


# --- automatic mail and bounces -----------------------------------------------------------

_REPORT_PARTS: Final = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "text/rfc822-headers"}
)
_DAEMONS: Final = frozenset({"mailer-daemon", "postmaster"})
_PRECEDENCES: Final = frozenset({"bulk", "junk", "list", "auto_reply"})


def _auto_reason(
    message: Message, sender: str, bounce: Bounce | None, report: str | None
) -> str | None:
    if bounce is not None:
        return "bounce"
    if report is not None:
        return "delivery-report" if report == "delivery-status" else "report"
    if sender.partition("@")[0] in _DAEMONS:
        return "mailer-daemon"
    return _auto_header_reason(message)


def _auto_header_reason(message: Message) -> str | None:
    """What the headers say about a mail sent by a program (RFC 3834, list headers)."""
    auto_submitted = _header(message, "Auto-Submitted")
    precedence = (_header(message, "Precedence") or "").strip().lower()
    checks = (
        (
            "auto-submitted",
            auto_submitted is not None and auto_submitted.split(";")[0].strip().lower() != "no",
        ),
        (
            "auto-reply",
            _has_header(message, "X-Autoreply") or _has_header(message, "X-Autorespond"),
        ),
        (f"precedence-{precedence}", precedence in _PRECEDENCES),
        (
            "mailing-list",
            _has_header(message, "List-Id") or _has_header(message, "List-Unsubscribe"),
        ),
        ("null-return-path", (_header(message, "Return-Path") or "").strip() == "<>"),
    )
    return next((reason for reason, applies in checks if applies), None)


def _report_type(message: Message, sender: str) -> str | None:
    """``delivery-status`` for a DSN (a multipart/report of that type, or a daemon's mail
    carrying a delivery-status part), another report type as such, else None."""
    if message.get_content_type() == "multipart/report":
        return _param(message, "report-type") or "unknown"
    if sender.partition("@")[0] in _DAEMONS and _delivery_status_part(message) is not None:
        return "delivery-status"
    return None


def _delivery_status_part(message: Message) -> Message | None:
    for part in _leaf_parts(message):
        if part.get_content_type() in {"message/delivery-status", "message/global-delivery-status"}:
            return part
    return None


def _bounce(message: Message) -> Bounce | None:
    """A failed delivery from a DSN's delivery-status part (RFC 3464), or None when no
    recipient failed (a delay or a success report)."""
    status_part = _delivery_status_part(message)
    if status_part is None:
        return None
    # The per-message block comes first; it has no Action or Status of its own.
    failed = next((fields for fields in _status_blocks(status_part) if _is_failure(fields)), None)
    if failed is None:
        return None
    recipient = _dsn_address(failed.get("final-recipient") or failed.get("original-recipient"))
    status = failed.get("status", "")
    diagnostic = failed.get("diagnostic-code", "")
    _, semicolon, diagnostic_text = diagnostic.partition(";")
    reason = " ".join(
        part for part in (status, diagnostic_text if semicolon else diagnostic) if part
    )
    return Bounce(
        original_message_id=_returned_message_id(message),
        recipient=recipient,
        reason=clean_line(reason or "delivery failed", BOUNCE_REASON_MAX_LENGTH),
    )


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message block then the per-recipient blocks of a delivery-status part, each
    as lower-case field names to one-line values."""
    if part.is_multipart():
        blocks: list[Message] = [
            block for block in part.get_payload() if isinstance(block, Message)
        ]
    else:
        text = _decode_text(_decoded_bytes(part), "utf-8")
        parser = Parser(policy=policy.compat32)
        blocks = [
            parser.parsestr(block.strip() + "\n", headersonly=True)
            for block in re.split(r"\r?\n\s*\r?\n", text)
            if block.strip()
        ]
    return [
        {
            str(key).lower(): clean_line(
                _repair_escaped_bytes(str(value)), BOUNCE_REASON_MAX_LENGTH
            )
            for key, value in block.raw_items()
        }
        for block in blocks
    ]


def _is_failure(fields: dict[str, str]) -> bool:
    action = fields.get("action", "").lower()
    if action:
        return action == "failed"
    return fields.get("status", "").startswith("5")


def _dsn_address(value: str | None) -> str:
    """The address of ``rfc822; someone@example.com``."""
    if not value:
        return ""
    address = value.partition(";")[2] or value
    address = address.strip().strip("<>").lower()
    return address if len(address) <= ADDRESS_MAX_LENGTH and _ADDRESS.fullmatch(address) else ""


def _returned_message_id(message: Message) -> str | None:
    """The Message-ID of the returned message (``message/rfc822``) or of its returned
    headers (``text/rfc822-headers``)."""
    for part in _leaf_parts(message):
        content_type = part.get_content_type()
        returned: Message | None = None
        if content_type in {"message/rfc822", "message/global"}:
            returned = _enclosed_message(part)
        elif content_type == "text/rfc822-headers":
            headers = _decode_text(_decoded_bytes(part), _charset(part))
            returned = Parser(policy=policy.compat32).parsestr(headers, headersonly=True)
        if returned is not None:
            ids = _message_ids(_header(returned, "Message-ID"))
            if ids:
                return ids[0]
    return None


# --- the whole message --------------------------------------------------------------------


def _parse(raw: bytes) -> ParsedMail:
    message = _PARSER.parsebytes(raw)
    sender, sender_name = _sender(message)
    report = _report_type(message, sender)
    bounce = _bounce(message) if report == "delivery-status" else None
    plain, html = _bodies(message)
    body = _body(plain, html)
    return ParsedMail(
        message_id=_message_id(message, raw),
        sender=sender,
        sender_name=sender_name,
        subject=clean_line(_header(message, "Subject") or "", SUBJECT_MAX_LENGTH),
        body=body,
        reply_body=strip_quoted_reply(body),
        references=_references(message),
        attachments=_attachments(message, (plain, html)),
        auto_reason=_auto_reason(message, sender, bounce, report),
        bounce=bounce,
        language=_language(message, plain or html),
    )
