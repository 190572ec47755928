"""Text as the bot accepts it, stores it and hands it on: one rule for every adapter.

Every text that comes in — a terminal line, anything in a Slack request — goes through
:func:`clean` before the walk sees it, and every export cleans what it reads again, for
what was stored before this rule existed.
"""

from __future__ import annotations

import unicodedata

# Line breaks and tabs are text; every other control character (C0, DEL, C1) is not: NUL
# makes PostgreSQL refuse the row, openpyxl refuses most of them, and ESC sequences
# reach the terminal of whoever reads an export.
_KEPT_CONTROLS = frozenset("\n\t")
_CONTROLS = {code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in _KEPT_CONTROLS}


def clean(text: str) -> str:
    """``text`` without control characters other than newline and tab, in NFC (so that
    one word typed on two keyboards is stored as one string)."""
    return unicodedata.normalize("NFC", text.translate(_CONTROLS))


def clean_all(value):
    """:func:`clean` applied to a string, or to every string in nested dicts and lists
    (a Slack request body, an export document), those in place; returns the result."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = clean_all(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = clean_all(item)
    return value
