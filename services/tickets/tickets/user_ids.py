"""User ids as tickets stores them (text) and shows them (JSON), for the API and events alike."""

from __future__ import annotations


def render_user_id(value: str | None) -> int | str | None:
    """A stored user id as JSON: a number when it is a canonical integer, else the text.

    accounts hands out integer ids today, so tickets answers with the same JSON type and
    ``ticket["client_id"] == me["id"]`` holds; an id that is not an integer goes back
    unchanged, so nothing breaks if accounts ever moves to another kind of id.
    """
    if value is None:
        return None
    if value.isdigit() and (value == "0" or not value.startswith("0")) and len(value) < 19:
        return int(value)
    return value
