"""Keeping an SMS within two segments: GSM-7 when every character allows it, else UCS-2.

A single GSM-7 segment holds 160 characters (153 each when concatenated), UCS-2 70 (67).
Only the ticket title is shortened to fit; the number, the status and the link stay whole.
"""

from __future__ import annotations

from typing import Final

MAX_SEGMENTS: Final = 2

# GSM 03.38 basic character set, and the extension table (each costs two septets).
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED: Final = frozenset("^{}\\[~]|€\f")


def is_gsm(text: str) -> bool:
    return all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in text)


def units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) ``text`` takes."""
    if is_gsm(text):
        return sum(2 if char in _GSM_EXTENDED else 1 for char in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    size = units(text)
    single, multi = (160, 153) if is_gsm(text) else (70, 67)
    if size <= single:
        return 1
    return -(-size // multi)


def fit(template: str, names: dict[str, str], link: str, max_segments: int = MAX_SEGMENTS) -> str:
    """``template % names`` plus the link, the title shortened until it fits."""
    title = " ".join(names["title"].split())

    def render(shown: str) -> str:
        return f"{template % {**names, 'title': shown}} {link}"

    text = render(title)
    while segments(text) > max_segments and title:
        title = title[: max(0, len(title) - max(1, len(title) // 8))].rstrip()
        text = render(f"{title}..." if title else "")
    return text
