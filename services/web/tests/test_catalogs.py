"""The message catalogs: Spanish complete, and the compiled .mo files match the .po files."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def po_entries(path: Path) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """``(context, msgid) -> (msgid_plural, msgstr forms)`` of a .po file (no obsolete
    entries)."""
    entries: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            forms = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            key = (fields.get("msgctxt", ""), fields["msgid"])
            entries[key] = (fields.get("msgid_plural", ""), forms)
    return entries


def test_every_spanish_message_is_translated() -> None:
    entries = po_entries(LOCALE / "es/LC_MESSAGES/django.po")
    missing = [msgid for (_context, msgid), (_plural, forms) in entries.items() if not all(forms)]
    assert missing == []


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_compiled_catalog_says_what_the_source_says(language: str) -> None:
    folder = LOCALE / language / "LC_MESSAGES"
    with open(folder / "django.mo", "rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    for (context, msgid), (plural, forms) in po_entries(folder / "django.po").items():
        if not forms[0]:
            continue  # untranslated (English source): gettext falls back to the msgid
        if plural:
            said = (
                catalog.npgettext(context, msgid, plural, 1)
                if context
                else (catalog.ngettext(msgid, plural, 1))
            )
        else:
            said = catalog.pgettext(context, msgid) if context else catalog.gettext(msgid)
        assert said == forms[0], msgid
