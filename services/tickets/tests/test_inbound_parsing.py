"""Inbound mail parsing on mails shaped like real ones: replies from Gmail, Outlook and
Apple Mail in English and Spanish, HTML-only mail, charsets and transfer encodings,
attachments, bounces, auto-replies and mailing lists, and hostile bytes."""

from __future__ import annotations

import base64
import hashlib
import quopri
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inbound.parsing import (
    QUOTE_MAX_DEPTH,
    SUBJECT_MAX_LENGTH,
    ParsedMail,
    ParseError,
    html_to_text,
    parse,
    strip_quoted_reply,
    ticket_id_from_references,
    ticket_number_from_subject,
)

SUPPORT = "soporte@servidesk.test"


def mail(
    body: str = "La impresora no imprime.",
    *,
    sender: str = "Ana Pérez <ana@example.com>",
    subject: str = "La impresora no imprime",
    message_id: str | None = "<CAF1234@mail.gmail.com>",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    if message_id is not None:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def raw(*lines: str, body: bytes = b"") -> bytes:
    """A message from header lines and a body, with CRLF line ends as on the wire."""
    return "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body


def text_fields(parsed: ParsedMail) -> list[str]:
    fields = [
        parsed.message_id,
        parsed.sender,
        parsed.sender_name,
        parsed.subject,
        parsed.body,
        parsed.reply_body,
        *parsed.references,
        *(attachment.filename for attachment in parsed.attachments),
        *(attachment.content_type for attachment in parsed.attachments),
    ]
    if parsed.bounce is not None:
        fields += [parsed.bounce.recipient, parsed.bounce.reason]
        fields += [parsed.bounce.original_message_id or ""]
    return [*fields, parsed.auto_reason or "", parsed.language or ""]


def assert_storable(parsed: ParsedMail) -> None:
    """Every text can go to PostgreSQL: no NUL, no other control character, no surrogate."""
    for text in text_fields(parsed):
        for character in text:
            assert character in "\n\t" or not (
                ord(character) < 32 or 127 <= ord(character) < 160
            ), (text, character)
            assert not 0xD800 <= ord(character) <= 0xDFFF, text


# --- identity, subject, threading -----------------------------------------------------------


def test_a_plain_mail_gives_its_sender_subject_and_body() -> None:
    parsed = parse(mail(sender="Ana Pérez <Ana.Perez@Example.COM>").as_bytes())

    assert parsed.sender == "ana.perez@example.com"
    assert parsed.sender_name == "Ana Pérez"
    assert parsed.subject == "La impresora no imprime"
    assert parsed.body == "La impresora no imprime."
    assert parsed.reply_body == "La impresora no imprime."
    assert parsed.message_id == "<CAF1234@mail.gmail.com>"
    assert parsed.references == ()
    assert parsed.attachments == ()
    assert parsed.auto_reason is None
    assert parsed.bounce is None
    assert parsed.language is None


def test_reply_to_does_not_change_who_sent_it() -> None:
    parsed = parse(mail(Reply_To="attacker@evil.test").as_bytes())

    assert parsed.sender == "ana@example.com"


def test_a_sender_without_a_display_name_has_an_empty_name() -> None:
    parsed = parse(mail(sender="ana@example.com").as_bytes())

    assert (parsed.sender, parsed.sender_name) == ("ana@example.com", "")


@pytest.mark.parametrize(
    ("from_line", "sender", "name"),
    [
        (b"From: Ana <ana@example.com", "ana@example.com", "Ana"),  # no closing bracket
        (b"From: ana@example.com (Ana Perez)", "ana@example.com", ""),
        (b'From: "Perez, Ana" <ana@example.com>', "ana@example.com", "Perez, Ana"),
        (
            b"From: =?utf-8?q?Jos=C3=A9_Mu=C3=B1oz?= <jose@example.es>",
            "jose@example.es",
            "José Muñoz",
        ),
        (
            b"From: Jos\xe9 Mu\xf1oz <jose@example.es>",
            "jose@example.es",
            "José Muñoz",
        ),  # raw latin-1
        (b"From: Jos\xc3\xa9 <jose@example.es>", "jose@example.es", "José"),  # raw utf-8
        (b"From: Ana\x00 <ana@example.com>", "ana@example.com", "Ana"),
        (b"From: <@relay.example:ana@example.com>", "ana@example.com", ""),  # source route
    ],
)
def test_a_malformed_from_is_read_as_far_as_it_goes(
    from_line: bytes, sender: str, name: str
) -> None:
    parsed = parse(from_line + b"\r\nSubject: hola\r\n\r\nHola")

    assert (parsed.sender, parsed.sender_name) == (sender, name)


@pytest.mark.parametrize(
    "from_line",
    [
        b"",
        b"From: ",
        b"From: <>",
        b"From: Ana",
        b"From: undisclosed-recipients:;",
        b"From: a@b@c",
        b"From: @example.com",
        b"From: ana@",
        b"From: " + b"a" * 300 + b"@example.com",
    ],
)
def test_no_usable_sender_address_is_a_parse_error(from_line: bytes) -> None:
    with pytest.raises(ParseError):
        parse(from_line + b"\r\nSubject: hola\r\n\r\nHola")


@pytest.mark.parametrize("data", [b"", b"   \r\n", b"\x00"])
def test_empty_input_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse(data)


@pytest.mark.parametrize(
    ("subject_line", "subject"),
    [
        (b"Subject: =?UTF-8?B?wr9Qb3IgcXXDqSBubyBpbXByaW1lPw==?=", "¿Por qué no imprime?"),
        (b"Subject: =?ISO-8859-1?Q?Contrase=F1a_caducada?=", "Contraseña caducada"),
        (
            b"Subject: =?utf-8?q?Re=3A_=5BSD-42=5D_Impresi=C3=B3n?=\r\n =?utf-8?q?_fallida?=",
            "Re: [SD-42] Impresión fallida",
        ),
        (b"Subject: Re: [SD-42]\r\n\tfolded  over lines", "Re: [SD-42] folded over lines"),
        (b"Subject: Contrase\xf1a caducada", "Contraseña caducada"),  # undeclared latin-1
        (b"Subject: =?x-unknown?q?caf=E9?=", "caf\ufffd"),  # unknown charset
        (b"Subject: tab\there\x00nul\x1bescape", "tab herenulescape"),
    ],
)
def test_subjects_are_decoded_to_one_clean_line(subject_line: bytes, subject: str) -> None:
    parsed = parse(b"From: ana@example.com\r\n" + subject_line + b"\r\n\r\nHola")

    assert parsed.subject == subject


def test_a_long_subject_is_bounded() -> None:
    parsed = parse(mail(subject="Impresora " * 100).as_bytes())

    assert len(parsed.subject) <= SUBJECT_MAX_LENGTH
    assert parsed.subject.startswith("Impresora Impresora")


def test_a_missing_subject_is_empty() -> None:
    parsed = parse(b"From: ana@example.com\r\n\r\nHola")

    assert parsed.subject == ""
    assert parsed.body == "Hola"


def test_a_missing_message_id_is_generated_from_the_message_and_stable() -> None:
    first = mail(message_id=None).as_bytes()
    other = mail("Otro texto", message_id=None).as_bytes()

    generated = parse(first).message_id

    assert generated == parse(first).message_id
    assert generated != parse(other).message_id
    assert generated.startswith("<")
    assert generated.endswith(">")
    assert hashlib.sha256(first).hexdigest() in generated


@pytest.mark.parametrize(
    ("header", "message_id"),
    [
        (b"Message-ID: <abc.123@mail.example.com>", "<abc.123@mail.example.com>"),
        (b"Message-ID:   <abc@example.com>  (comment)", "<abc@example.com>"),
        (b"Message-Id: abc@example.com", "<abc@example.com>"),  # no brackets
        (b"Message-ID: <abc@example.com\x00>", "<abc@example.com>"),
    ],
)
def test_message_ids_are_normalised(header: bytes, message_id: str) -> None:
    parsed = parse(b"From: ana@example.com\r\n" + header + b"\r\n\r\nHola")

    assert parsed.message_id == message_id


def test_an_oversized_message_id_is_replaced_by_a_generated_one() -> None:
    data = b"From: ana@example.com\r\nMessage-ID: <" + b"x" * 400 + b"@example.com>\r\n\r\nHola"

    assert parse(data).message_id.endswith("@servidesk.invalid>")


def test_references_are_in_reply_to_then_references_without_duplicates() -> None:
    parsed = parse(
        mail(
            In_Reply_To="<sd.7.3.b@servidesk.test>",
            References="<sd.7.1.a@servidesk.test> <sd.7.3.b@servidesk.test> <other@x.test>",
        ).as_bytes()
    )

    assert parsed.references == (
        "<sd.7.3.b@servidesk.test>",
        "<sd.7.1.a@servidesk.test>",
        "<other@x.test>",
    )
    assert ticket_id_from_references(parsed.references) == 7


def test_a_very_long_references_header_keeps_the_root_and_the_latest() -> None:
    ids = [f"<m{index}@x.test>" for index in range(500)]
    parsed = parse(mail(References=" ".join(ids)).as_bytes())

    assert parsed.references[0] == "<m0@x.test>"
    assert parsed.references[-1] == "<m499@x.test>"
    assert len(parsed.references) <= 50


@pytest.mark.parametrize(
    ("references", "ticket_id"),
    [
        (["<sd.42.1.abc@servidesk.test>"], 42),
        (["<CAF@mail.gmail.com>", "<sd.42.x@servidesk.test>"], 42),
        (["<SD.9.x@servidesk.test>"], 9),
        (["<sd.5.a@h>", "<sd.6.a@h>"], 5),
        (["<sd.x.1@servidesk.test>", "<sd.3.@h>"], 3),
        (["<sd.42@servidesk.test>"], None),  # no dot after the id
        (["<sd.0.a@h>"], None),
        (["<sd.99999999999999999999.a@h>"], None),  # beyond a bigint
        (["<sd.9223372036854775808.a@h>"], None),
        (["<sd.9223372036854775807.a@h>"], 9223372036854775807),
        (["<xsd.42.a@h>", "sd.42.a@h", "<sd.42.a@h> trailing"], None),
        ([], None),
    ],
)
def test_ticket_id_from_references(references: list[str], ticket_id: int | None) -> None:
    assert ticket_id_from_references(references) == ticket_id


@pytest.mark.parametrize(
    ("subject", "reference"),
    [
        ("Re: [SD-123] La impresora", "SD-123"),
        ("RE: RV: [sd-7] Pantalla", "SD-7"),
        ("[ SD - 0042 ] spaces and zeros", "SD-42"),
        ("Ticket SD-123 without brackets", None),
        ("[SD-] no number", None),
        ("[SD-0]", None),
        ("[SD-99999999999999999999]", None),
        ("[XSD-5]", None),
        ("", None),
    ],
)
def test_ticket_number_from_subject(subject: str, reference: str | None) -> None:
    assert ticket_number_from_subject(subject) == reference


def test_the_subject_tag_is_what_a_ticket_shows_as_its_reference() -> None:
    from tickets.models import Ticket  # noqa: PLC0415 (the model only for its reference)

    ticket = Ticket(number=123)

    assert ticket_number_from_subject(f"Re: [{ticket.reference}] Hola") == ticket.reference


@pytest.mark.parametrize(
    ("value", "language"),
    [("es-ES", "es-es"), ("en, es", "en"), ("<script>", None), ("", None)],
)
def test_language_comes_from_content_language(value: str, language: str | None) -> None:
    data = raw("From: ana@example.com", f"Content-Language: {value}", body=b"Hola")

    assert parse(data).language == language


def test_language_of_the_text_part_counts_too() -> None:
    message = mail()
    message.make_alternative()
    message.add_alternative("<p>Hola</p>", subtype="html")
    plain = next(iter(message.iter_parts()))
    plain["Content-Language"] = "es"

    assert parse(message.as_bytes()).language == "es"


# --- charsets and transfer encodings -------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "encoding", "payload"),
    [
        (
            "iso-8859-1",
            "quoted-printable",
            quopri.encodestring("Contraseña ¿olvidada?".encode("latin-1")),
        ),
        ("utf-8", "quoted-printable", quopri.encodestring("Contraseña ¿olvidada?".encode())),
        ("iso-8859-1", "base64", base64.encodebytes("Contraseña ¿olvidada?".encode("latin-1"))),
        ("utf-8", "base64", base64.encodebytes("Contraseña ¿olvidada?".encode())),
        ("windows-1252", "8bit", "Contraseña ¿olvidada?".encode("cp1252")),
        ("UTF8", "8bit", "Contraseña ¿olvidada?".encode()),  # an alias
    ],
)
def test_bodies_decode_in_their_charset_and_transfer_encoding(
    charset: str, encoding: str, payload: bytes
) -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}",
        f"Content-Transfer-Encoding: {encoding}",
        body=payload,
    )

    assert parse(data).body == "Contraseña ¿olvidada?"


@pytest.mark.parametrize(
    ("charset", "payload", "body"),
    [
        ("x-no-such-charset", "Contraseña".encode("latin-1"), "Contrase\ufffda"),
        ("zlib", b"Hola", "Hola"),  # a codec, but not a text encoding
        ("idna", b"\xff\xfeHola", "\ufffd\ufffdHola"),  # a codec without error handling
        (None, "Contraseña".encode(), "Contraseña"),  # undeclared: UTF-8
        (None, "Contraseña".encode("latin-1"), "Contraseña"),  # undeclared, not UTF-8
    ],
)
def test_unknown_or_missing_charsets_decode_with_replacement(
    charset: str | None, payload: bytes, body: str
) -> None:
    content_type = "Content-Type: text/plain" + (f"; charset={charset}" if charset else "")
    data = raw("From: ana@example.com", "MIME-Version: 1.0", content_type, body=payload)

    assert parse(data).body == body


@pytest.mark.parametrize(
    ("charset", "payload", "body"),
    [
        ("iso-8859-1", b"\x93Impresora\x94 \x96 caf\xe9", "\u201cImpresora\u201d \u2013 café"),
        ("us-ascii", "café".encode(), "café"),  # 8-bit text labelled ASCII
        ("us-ascii", "café".encode("cp1252"), "café"),
    ],
)
def test_charset_labels_are_read_as_mail_programs_mean_them(
    charset: str, payload: bytes, body: str
) -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}",
        "Content-Transfer-Encoding: 8bit",
        body=payload,
    )

    assert parse(data).body == body


def test_nul_and_control_characters_are_removed_everywhere() -> None:
    data = raw(
        "From: =?utf-8?q?Ana=00P=C3=A9rez?= <ana@example.com>",
        "Subject: =?utf-8?q?Hola=00mundo=07?=",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Uno\x00dos\x1b[31m\r\ntres\x7f\xc2\x9bcuatro\xc2\x85cinco\r\n"
            b"--b\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="fac\x00tura\x1f.pdf"\r\n\r\n%PDF\x00\r\n'
            b"--b--\r\n"
        ),
    )

    parsed = parse(data)

    assert parsed.sender_name == "AnaPérez"
    assert parsed.subject == "Holamundo"
    assert parsed.body == "Unodos[31m\ntrescuatro\ncinco"
    assert parsed.attachments[0].filename == "factura.pdf"
    assert parsed.attachments[0].content == b"%PDF\x00"  # file content stays as sent
    assert_storable(parsed)


def test_line_ends_are_normalised_and_runs_of_blank_lines_shortened() -> None:
    data = raw("From: ana@example.com", body=b"Uno  \r\n\r\n\r\n\r\nDos\rTres\r\n")

    assert parse(data).body == "Uno\n\nDos\nTres"


def test_format_flowed_soft_breaks_are_joined() -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8; format=flowed",
        body=(
            b"La impresora de la segunda planta no imprime \r\n"
            b"desde esta ma\xc3\xb1ana.\r\n"
            b"\r\n"
            b">> Cita \r\n"
            b">> partida.\r\n"
            b" >Desde la primera columna.\r\n"
        ),
    )

    assert parse(data).body == (
        "La impresora de la segunda planta no imprime desde esta mañana.\n"
        "\n"
        ">> Cita partida.\n"
        ">Desde la primera columna."
    )


# --- HTML ----------------------------------------------------------------------------------

HTML_ONLY = """<!DOCTYPE html>
<html><head><title>Secret title</title><style>p { color: red }</style>
<script>alert("head")</script></head>
<body>
<!-- a comment -->
<h1>Hola&nbsp;equipo</h1>
<p>La impresora   de la
   segunda planta<br>no imprime &amp; hace ruido &lt;clac&gt;.</p>
<script type="text/javascript">document.cookie</script>
<div>Pasos:<ul><li>Encender</li><li>Imprimir</li></ul></div>
<table><tr><td>Modelo</td><td>HP 4000</td></tr></table>
<pre>línea   1
línea   2</pre>
<img src="https://tracker.example/p.gif" alt="tracker">
<iframe src="https://evil.example"></iframe>
<svg><text>svg text</text></svg>
<noscript>noscript text</noscript>
</body></html>"""


def test_an_html_only_mail_becomes_safe_plain_text() -> None:
    message = mail()
    message.set_content(HTML_ONLY, subtype="html")

    body = parse(message.as_bytes()).body

    assert body == (
        "Hola\xa0equipo\n"
        "\n"
        "La impresora de la segunda planta\n"
        "no imprime & hace ruido <clac>.\n"
        "\n"
        "Pasos:\n"
        "\n"
        "- Encender\n"
        "\n"
        "- Imprimir\n"
        "\n"
        "Modelo HP 4000\n"
        "\n"
        "línea   1\n"
        "línea   2"
    )
    for leftover in ("alert", "cookie", "color", "Secret", "comment", "svg", "noscript", "<p", "<"):
        assert leftover not in body.replace("<clac>", "")


def test_an_html_part_in_latin_1_quoted_printable() -> None:
    html = "<p>Contrase&ntilde;a &eacute; caducada: ¿qué hago?</p>".encode("latin-1")
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        "Content-Type: text/html; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        body=quopri.encodestring(html),
    )

    assert parse(data).body == "Contraseña é caducada: ¿qué hago?"


def test_the_text_part_wins_over_the_html_alternative() -> None:
    message = mail("Texto plano")
    message.add_alternative("<p>Texto <b>HTML</b></p>", subtype="html")

    parsed = parse(message.as_bytes())

    assert parsed.body == "Texto plano"
    assert parsed.attachments == ()


def test_an_empty_text_alternative_gives_way_to_the_html() -> None:
    message = mail(" \n")
    message.add_alternative("<p>El texto <b>real</b></p>", subtype="html")

    assert parse(message.as_bytes()).body == "El texto real"


def test_html_that_is_only_script_gives_an_empty_body() -> None:
    assert html_to_text("<script>alert(1)</script><style>x{}</style>") == ""


def test_broken_html_still_becomes_text() -> None:
    assert html_to_text("<p>Hola <b>mundo<p>adiós</div></i>&bogus; &#0; &#x110000;") == (
        "Hola mundo\nadiós&bogus \ufffd \ufffd"
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("https://example.com/informe", "https://example.com/informe"),
        ("informe.html", "informe.html"),
        ("Sin  etiquetas\n&amp; con entidades", "Sin etiquetas & con entidades"),
    ],
)
def test_html_without_markup_is_just_text(
    html: str, text: str, recwarn: pytest.WarningsRecorder
) -> None:
    assert html_to_text(html) == text
    assert not recwarn.list


def test_form_controls_and_options_are_not_text() -> None:
    html = "<p>Hola</p><form><select><option>Uno</option></select><input value=x></form>"

    assert html_to_text(html) == "Hola"


def test_nested_blockquotes_are_quoted_once_per_level() -> None:
    html = "<div>Nuevo</div><blockquote>Uno<blockquote>Dos</blockquote></blockquote>"

    assert html_to_text(html) == "Nuevo\n\n> Uno\n>\n> > Dos"


def test_deeply_nested_quotes_do_not_multiply_the_text() -> None:
    html = "<blockquote>" * 5000 + "línea<br>" * 2000

    text = html_to_text(html)

    assert text.splitlines()[0] == "> " * QUOTE_MAX_DEPTH + "línea"
    assert len(text) < 30 * 2000


def test_deeply_nested_tags_become_text() -> None:
    assert html_to_text("<b>" * 20000 + "hondo" + "</b>" * 20000) == "hondo"


# --- replies: quoted conversation and signature --------------------------------------------

GMAIL_EN = """Thanks, it prints again.

On Mon, Dec 7, 2026 at 10:00 AM Servidesk Support <soporte@servidesk.test>
wrote:

> Could you try again?
>
> --
> Servidesk
"""

GMAIL_ES = """Ya funciona, gracias.

El lun, 7 dic 2026 a las 10:00, Soporte Servidesk (<soporte@servidesk.test>)
escribió:

> ¿Puede probar de nuevo?
"""

GMAIL_ES_ONE_LINE = """Ya funciona.
El lun, 7 dic 2026 a las 10:00, Soporte (<soporte@servidesk.test>) escribió:
> ¿Puede probar?
"""

OUTLOOK_EN = """It still fails.

Regards
Ana

-----Original Message-----
From: Servidesk Support <soporte@servidesk.test>
Sent: Monday, December 7, 2026 10:00 AM
To: Ana Perez <ana@example.com>
Subject: [SD-42] Printer

Could you try again?
"""

OUTLOOK_ES = """Sigue fallando.

-----Mensaje original-----
De: Soporte Servidesk <soporte@servidesk.test>
Enviado el: lunes, 7 de diciembre de 2026 10:00
Para: Ana Pérez <ana@example.com>
Asunto: [SD-42] Impresora
"""

OUTLOOK_NEW_EN = """Attached is the log.

________________________________
From: Servidesk Support <soporte@servidesk.test>
Sent: Monday, December 7, 2026 10:00
To: Ana Perez
Subject: [SD-42] Printer
"""

OUTLOOK_HTML_ES_AS_TEXT = """Adjunto la captura.

*De:* Soporte Servidesk <soporte@servidesk.test>
*Enviado:* lunes, 7 de diciembre de 2026 10:00
*Para:* Ana Pérez
"""

APPLE_EN = """Works now!

Sent from my iPhone

> On 7 Dec 2026, at 10:00, Servidesk Support <soporte@servidesk.test> wrote:
>
> Could you try again?
"""

APPLE_ES = """¡Ya va!

Enviado desde mi iPhone

> El 7 dic 2026, a las 10:00, Soporte Servidesk <soporte@servidesk.test> escribió:
"""

THUNDERBIRD_ES = """Gracias.

El 7/12/26 a las 10:00, Soporte Servidesk escribió:
> ¿Puede probar?
"""

SIGNATURE = """Here are the steps.

--
Ana Perez
Accounting, ext. 123
"""

SIGNATURE_WITH_SPACE = "Here are the steps.\n\n-- \nAna Perez\n"


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        (GMAIL_EN, "Thanks, it prints again."),
        (GMAIL_ES, "Ya funciona, gracias."),
        (GMAIL_ES_ONE_LINE, "Ya funciona."),
        (OUTLOOK_EN, "It still fails.\n\nRegards\nAna"),
        (OUTLOOK_ES, "Sigue fallando."),
        (OUTLOOK_NEW_EN, "Attached is the log."),
        (OUTLOOK_HTML_ES_AS_TEXT, "Adjunto la captura."),
        (APPLE_EN, "Works now!"),
        (APPLE_ES, "¡Ya va!"),
        (THUNDERBIRD_ES, "Gracias."),
        (SIGNATURE, "Here are the steps."),
        (SIGNATURE_WITH_SPACE, "Here are the steps."),
        ("Top line\n> quoted\nmore after", "Top line"),
        ("Listo.\n\nEnviado desde Outlook para Android\n", "Listo."),
        ("Done.\nGet Outlook for iOS", "Done."),
    ],
)
def test_replies_lose_quoted_conversation_and_signature(body: str, reply: str) -> None:
    assert strip_quoted_reply(body) == reply
    assert parse(mail(body).as_bytes()).reply_body == reply


@pytest.mark.parametrize(
    "body",
    [
        "On Monday the printer failed again.\nIt wrote: nothing.",  # not a header
        "El lunes falló otra vez.\nNo se imprime nada.",
        "From: the second floor.\nThe printer is broken.",  # a From: line alone is text
        "Steps:\n- turn it on\n- print",
        "Total -- 3 pages",
        "Sent from the second floor, the printer is still broken.\nPlease help.",
        "Enviado desde la oficina.\nGracias.",
    ],
)
def test_ordinary_text_is_not_taken_for_a_quote_or_signature(body: str) -> None:
    assert strip_quoted_reply(body) == body


def test_a_reply_that_is_only_quoted_keeps_the_whole_body() -> None:
    body = "> just the quote\n> nothing else"

    parsed = parse(mail(body).as_bytes())

    assert parsed.reply_body == parsed.body == body


def test_gmail_html_only_reply_loses_the_quote() -> None:
    html = (
        '<div dir="ltr">Thanks, it works now.<br></div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Dec 7, 2026 at '
        '10:00 AM Servidesk Support &lt;<a href="mailto:soporte@servidesk.test">'
        "soporte@servidesk.test</a>&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">'
        "Did the fix work?<br></blockquote></div>"
    )
    message = mail()
    message.set_content(html, subtype="html")

    parsed = parse(message.as_bytes())

    assert parsed.reply_body == "Thanks, it works now."
    assert "> Did the fix work?" in parsed.body


def test_outlook_html_reply_in_spanish_loses_the_original() -> None:
    html = (
        "<html><head><style>/* Style Definitions */ p.MsoNormal {margin:0cm}</style></head>"
        '<body><div class="WordSection1"><p class="MsoNormal">Adjunto la captura.<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt">'
        '<p class="MsoNormal"><b>De:</b> Soporte Servidesk &lt;soporte@servidesk.test&gt;<br>'
        "<b>Enviado el:</b> lunes, 7 de diciembre de 2026 10:00<br>"
        "<b>Para:</b> Ana Pérez<br><b>Asunto:</b> [SD-42] Impresora</p></div>"
        '<p class="MsoNormal">¿Puede enviar una captura?</p></div></body></html>'
    )
    message = mail()
    message.set_content(html, subtype="html")

    parsed = parse(message.as_bytes())

    assert parsed.reply_body == "Adjunto la captura."
    assert "MsoNormal" not in parsed.body


# --- attachments ---------------------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"


def test_pdf_and_image_attachments_are_kept_and_the_body_parts_are_not() -> None:
    message = mail("Adjunto la factura y una captura.")
    message.add_alternative("<p>Adjunto la factura y una captura.</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="factura.pdf")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="captura.png")

    parsed = parse(message.as_bytes())

    assert parsed.body == "Adjunto la factura y una captura."
    assert [(a.filename, a.content, a.content_type) for a in parsed.attachments] == [
        ("factura.pdf", PDF, "application/pdf"),
        ("captura.png", PNG, "image/png"),
    ]


def test_an_inline_image_with_a_name_is_an_attachment_and_one_without_is_not() -> None:
    message = mail()
    message.set_content('<p>Mire:</p><img src="cid:img1"><img src="cid:logo">', subtype="html")
    message.add_related(
        PNG,
        maintype="image",
        subtype="png",
        cid="<img1>",
        disposition="inline",
        filename="image001.png",
    )
    message.add_related(PNG, maintype="image", subtype="png", cid="<logo>")

    parsed = parse(message.as_bytes())

    assert parsed.body == "Mire:"
    assert [a.filename for a in parsed.attachments] == ["image001.png"]
    assert parsed.attachments[0].content == PNG


def test_a_text_file_attachment_is_kept_byte_for_byte() -> None:
    message = mail()
    message.add_attachment(
        "línea 1\nlínea 2\n".encode("latin-1"),
        maintype="text",
        subtype="plain",
        filename="registro.log",
    )

    parsed = parse(message.as_bytes())

    assert parsed.body == "La impresora no imprime."
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("registro.log", "línea 1\nlínea 2\n".encode("latin-1"))
    ]


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ("attachment; filename*=utf-8''%C3%B1and%C3%BA%20informe.pdf", "ñandú informe.pdf"),
        (
            "attachment; filename*0*=utf-8''largo%20nombre%20;\r\n filename*1*=de%20fichero.pdf",
            "largo nombre de fichero.pdf",
        ),
        ('attachment; filename="=?utf-8?B?w7FhbmTDuiBpbmZvcm1lLnBkZg==?="', "ñandú informe.pdf"),
        ('attachment; filename="C:\\\\Users\\\\ana\\\\informe.pdf"', "informe.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename=".htaccess"', "htaccess"),
        ("attachment", "attachment.pdf"),
        ('attachment; filename="   "', "attachment.pdf"),
    ],
)
def test_attachment_file_names_are_decoded_and_lose_their_path(
    disposition: str, filename: str
) -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nAdjunto\r\n"
            b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            + f"Content-Disposition: {disposition}\r\n\r\n".encode()
            + base64.encodebytes(PDF)
            + b"--b--\r\n"
        ),
    )

    parsed = parse(data)

    assert [(a.filename, a.content) for a in parsed.attachments] == [(filename, PDF)]


def test_a_named_inline_text_part_that_is_not_the_body_is_an_attachment() -> None:
    # Apple Mail's way of attaching a text file.
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nVer adjunto.\r\n"
            b"--b\r\nContent-Type: text/plain; charset=us-ascii; name=notas.txt\r\n"
            b"Content-Disposition: inline; filename=notas.txt\r\n\r\nNotas\r\n"
            b"--b--\r\n"
        ),
    )

    parsed = parse(data)

    assert parsed.body == "Ver adjunto."
    assert [(a.filename, a.content, a.content_type) for a in parsed.attachments] == [
        ("notas.txt", b"Notas", "text/plain")
    ]


def test_a_very_long_file_name_is_bounded_and_keeps_its_extension() -> None:
    message = mail()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="a" * 400 + ".pdf")

    filename = parse(message.as_bytes()).attachments[0].filename

    assert len(filename) == 255
    assert filename.endswith("a.pdf")


def test_a_forwarded_message_is_kept_as_an_eml_file() -> None:
    forwarded = mail(
        "El mensaje original", subject="Factura de diciembre", sender="jefe@example.com"
    )
    message = mail("Reenvío el correo del jefe.")
    message.add_attachment(forwarded)

    parsed = parse(message.as_bytes())

    assert parsed.body == "Reenvío el correo del jefe."
    (attachment,) = parsed.attachments
    assert attachment.filename == "Factura de diciembre.eml"
    assert attachment.content_type == "message/rfc822"
    inner = parse(attachment.content)
    assert (inner.sender, inner.body) == ("jefe@example.com", "El mensaje original")


@pytest.mark.parametrize(
    ("declared", "content_type"),
    [
        (b"Application/PDF", "application/pdf"),
        (b"application/x<script>", "application/octet-stream"),
        (b"image/png\x00", "application/octet-stream"),
        (b"application/" + b"x" * 300, "application/octet-stream"),
        (b"foo", "text/plain"),  # the email package's reading of a type without a subtype
    ],
)
def test_a_declared_content_type_is_kept_only_when_it_is_one(
    declared: bytes, content_type: str
) -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nAdjunto\r\n"
            b"--b\r\nContent-Type: " + declared + b"\r\n"
            b'Content-Disposition: attachment; filename="x.bin"\r\n\r\nDATA\r\n--b--\r\n'
        ),
    )

    (attachment,) = parse(data).attachments

    assert attachment.content_type == content_type
    assert attachment.content == b"DATA"


# --- automatic mail, lists and bounces ----------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y"}, "auto-submitted"),
        ({"Auto_Submitted": "No"}, None),
        ({"X_Autoreply": "yes"}, "auto-reply"),
        ({"X_Autorespond": "Out of office"}, "auto-reply"),
        ({"Precedence": "bulk"}, "precedence-bulk"),
        ({"Precedence": "Junk"}, "precedence-junk"),
        ({"Precedence": "list"}, "precedence-list"),
        ({"Precedence": "first-class"}, None),
        ({"List_Id": "Clientes <clientes.example.com>"}, "mailing-list"),
        ({"List_Unsubscribe": "<mailto:leave@example.com>"}, "mailing-list"),
        ({"Return_Path": "<>"}, "null-return-path"),
        ({"Return_Path": "<ana@example.com>"}, None),
    ],
)
def test_mail_sent_by_programs_has_a_reason(headers: dict[str, str], reason: str | None) -> None:
    parsed = parse(mail(**headers).as_bytes())

    assert parsed.auto_reason == reason
    assert parsed.bounce is None


def test_an_out_of_office_reply_in_spanish() -> None:
    data = raw(
        "From: Ana Perez <ana@example.com>",
        "To: soporte@servidesk.test",
        "Subject: =?utf-8?q?Respuesta_autom=C3=A1tica=3A_=5BSD-42=5D_Impresora?=",
        "Auto-Submitted: auto-replied",
        "X-Auto-Response-Suppress: All",
        "In-Reply-To: <sd.42.3.x@servidesk.test>",
        "Content-Type: text/plain; charset=utf-8",
        body=b"Estoy fuera de la oficina hasta el lunes.",
    )

    parsed = parse(data)

    assert parsed.auto_reason == "auto-submitted"
    assert parsed.subject == "Respuesta automática: [SD-42] Impresora"
    assert ticket_id_from_references(parsed.references) == 42


POSTFIX_BOUNCE = b"""Return-Path: <>
Date: Mon,  7 Dec 2026 10:00:05 +0000 (UTC)
From: MAILER-DAEMON@mail.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: soporte@servidesk.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="A1B2C3.1607335205/mail.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20261207100005.A1B2C3@mail.example.com>

This is a MIME-encapsulated message.

--A1B2C3.1607335205/mail.example.com
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<nadie@example.org>: host mx.example.org[203.0.113.5] said: 550 5.1.1
    <nadie@example.org>: Recipient address rejected: User unknown (in reply
    to RCPT TO command)

--A1B2C3.1607335205/mail.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com
X-Postfix-Queue-ID: A1B2C3
X-Postfix-Sender: rfc822; soporte@servidesk.test
Arrival-Date: Mon,  7 Dec 2026 10:00:04 +0000 (UTC)

Final-Recipient: rfc822; Nadie@example.org
Original-Recipient: rfc822;nadie@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nadie@example.org>: Recipient address
    rejected: User unknown

--A1B2C3.1607335205/mail.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <soporte@servidesk.test>
From: Servidesk <soporte@servidesk.test>
To: nadie@example.org
Subject: [SD-42] Recibido
Message-ID: <sd.42.1.abc@servidesk.test>

--A1B2C3.1607335205/mail.example.com--
"""


def test_a_postfix_bounce_names_the_original_message_the_recipient_and_the_reason() -> None:
    parsed = parse(POSTFIX_BOUNCE.replace(b"\n", b"\r\n"))

    assert parsed.auto_reason == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "<sd.42.1.abc@servidesk.test>"
    assert parsed.bounce.recipient == "nadie@example.org"
    assert parsed.bounce.reason == (
        "5.1.1 550 5.1.1 <nadie@example.org>: Recipient address rejected: User unknown"
    )
    assert parsed.sender == "mailer-daemon@mail.example.com"
    assert parsed.attachments == ()


def test_a_bounce_returning_the_whole_message_finds_its_message_id() -> None:
    original = mail("Recibido", sender=SUPPORT, message_id="<sd.42.2.def@servidesk.test>")
    data = POSTFIX_BOUNCE.replace(b"\n", b"\r\n")
    start = data.index(b"Content-Description: Undelivered Message Headers")
    end = data.rindex(b"\r\n--A1B2C3")
    returned = b"Content-Type: message/rfc822\r\n\r\n" + original.as_bytes().replace(b"\n", b"\r\n")
    data = data[:start] + returned + data[end:]

    parsed = parse(data)

    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "<sd.42.2.def@servidesk.test>"


def test_a_delay_report_is_automatic_but_not_a_bounce() -> None:
    data = POSTFIX_BOUNCE.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1"
    )

    parsed = parse(data)

    assert parsed.bounce is None
    assert parsed.auto_reason == "delivery-report"


def test_a_daemon_report_without_the_report_type_is_still_a_bounce() -> None:
    data = POSTFIX_BOUNCE.replace(
        b"Content-Type: multipart/report; report-type=delivery-status;",
        b"Content-Type: multipart/mixed;",
    )

    parsed = parse(data)

    assert parsed.auto_reason == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.recipient == "nadie@example.org"


def test_a_bounce_without_status_fields_says_delivery_failed() -> None:
    data = raw(
        "From: postmaster@example.org",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nFailed\r\n"
            b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; example.org\r\n\r\n"
            b"Final-Recipient: nadie@example.org\r\nAction: failed\r\n\r\n"
            b"--b--\r\n"
        ),
    )

    parsed = parse(data)

    assert parsed.bounce is not None
    assert parsed.bounce.recipient == "nadie@example.org"
    assert parsed.bounce.reason == "delivery failed"
    assert parsed.bounce.original_message_id is None


def test_a_report_without_its_per_message_block_still_names_the_failure() -> None:
    data = POSTFIX_BOUNCE.replace(
        b"Reporting-MTA: dns; mail.example.com\nX-Postfix-Queue-ID: A1B2C3\n"
        b"X-Postfix-Sender: rfc822; soporte@servidesk.test\n"
        b"Arrival-Date: Mon,  7 Dec 2026 10:00:04 +0000 (UTC)\n\n",
        b"",
    )
    assert b"Reporting-MTA" not in data

    parsed = parse(data)

    assert parsed.bounce is not None
    assert parsed.bounce.recipient == "nadie@example.org"


def test_a_read_receipt_is_a_report_not_a_bounce() -> None:
    data = raw(
        "From: ana@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nLe\xc3\xaddo\r\n"
            b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
            b"Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--b--\r\n"
        ),
    )

    parsed = parse(data)

    assert (parsed.auto_reason, parsed.bounce) == ("report", None)


def test_mail_from_a_daemon_without_a_report_is_automatic() -> None:
    parsed = parse(
        mail("Your message was not delivered", sender="MAILER-DAEMON@example.org").as_bytes()
    )

    assert (parsed.auto_reason, parsed.bounce) == ("mailer-daemon", None)


# --- hostile input -------------------------------------------------------------------------


def test_deeply_nested_multiparts_do_not_break_parsing() -> None:
    depth = 200
    opening = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
        for level in range(depth)
    )
    data = (
        b"From: ana@example.com\r\nMIME-Version: 1.0\r\n"
        + opening
        + b"Content-Type: text/plain\r\n\r\nHondo\r\n"
    )

    try:
        parsed = parse(data)
    except ParseError:
        return
    assert_storable(parsed)


def test_header_injection_in_the_subject_stays_on_one_line() -> None:
    data = raw(
        "From: ana@example.com",
        "Subject: =?utf-8?q?Hola=0D=0ABcc=3A_victim=40example.com?=",
        body=b"Hola",
    )

    parsed = parse(data)

    assert parsed.subject == "Hola Bcc: victim@example.com"
    assert "\n" not in parsed.subject
    assert "\r" not in parsed.subject


def test_an_unexpected_failure_inside_is_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # The contract for the mailbox: whatever breaks on a hostile message, the message goes
    # to the failed folder with a reason, and the process keeps reading.
    def broken(message: object) -> None:
        raise IndexError("deep inside the email package")

    monkeypatch.setattr("inbound.parsing._bodies", broken)

    with pytest.raises(ParseError, match="IndexError"):
        parse(mail().as_bytes())


def test_a_non_bytes_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse("From: ana@example.com\r\n\r\nHola")  # type: ignore[arg-type]


HEADER_NAMES = [
    "From",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-Language",
    "Auto-Submitted",
    "Precedence",
    "Return-Path",
    "MIME-Version",
]
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "ana@example.com",
            "Ana <ana@example.com>",
            "=?utf-8?b?w7E=?= <x@y>",
            "=?bogus?q?=FF?=",
            "multipart/mixed; boundary=b",
            "multipart/report; report-type=delivery-status; boundary=b",
            "message/rfc822",
            "message/delivery-status",
            "text/plain; charset=bogus; format=flowed; delsp=yes",
            "text/html; charset=utf-16",
            "attachment; filename*=utf-8''%FF%FE",
            "base64",
            "quoted-printable",
            "<sd.1.x@h> <a@b>",
            '"unterminated <x@y',
            "(((((",
            "<<<@>>>",
        ]
    ),
)
BODY_CHUNKS = st.lists(
    st.one_of(
        st.binary(max_size=60),
        st.sampled_from(
            [
                b"--b\r\n",
                b"--b--\r\n",
                b"\r\n\r\n",
                b"Content-Type: text/html\r\n\r\n<p>x<script>y</script>",
                b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.0.0\r\n",
                b"Content-Type: message/rfc822\r\n\r\nFrom: a@b\r\nSubject: x\r\n\r\nbody",
                b"Content-Disposition: attachment; filename=x.pdf\r\n\r\n%PDF",
                b"El lun escribi\xc3\xb3:\r\n> x\r\n",
                b"=?utf-8?q?x?=",
                b"\x00\xff\xfe",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_a_mail_or_a_parse_error(data: bytes) -> None:
    try:
        parsed = parse(data)
    except ParseError:
        return
    assert_storable(parsed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=10),
    chunks=BODY_CHUNKS,
)
def test_mail_shaped_garbage_gives_a_mail_or_a_parse_error(
    headers: list[tuple[str, str]], chunks: list[bytes]
) -> None:
    head = b"".join(
        f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\r\n" for name, value in headers
    )
    data = b"From: ana@example.com\r\n" + head + b"\r\n" + b"".join(chunks)
    try:
        parsed = parse(data)
    except ParseError:
        return
    assert_storable(parsed)


def _samples() -> list[bytes]:
    forwarded = mail("Reenvío.")
    forwarded.add_attachment(mail("Original", subject="Factura"))
    forwarded.add_attachment(PDF, maintype="application", subtype="pdf", filename="f.pdf")
    html = mail()
    html.set_content(HTML_ONLY, subtype="html")
    return [POSTFIX_BOUNCE, forwarded.as_bytes(), html.as_bytes(), mail(GMAIL_ES).as_bytes()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(_samples()),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.binary(max_size=8), st.integers(0, 8)),
        max_size=6,
    ),
)
def test_damaged_real_mails_give_a_mail_or_a_parse_error(
    sample: bytes, edits: list[tuple[float, bytes, int]]
) -> None:
    data = sample
    for position, inserted, removed in edits:
        at = int(position * len(data))
        data = data[:at] + inserted + data[at + removed :]
    try:
        parsed = parse(data)
    except ParseError:
        return
    assert_storable(parsed)
