"""An application's settings — delivery type, solution categories, language, target
audit date — read from what people type at set-up and after ``set``, in either language.

Each reader returns the value or raises :class:`SettingProblem`, which the adapters word.
"""

from __future__ import annotations

from datetime import date

from flows.checklist import LANGUAGES, Checklist
from flows.commands import DELIVERY_WORDS, LANGUAGE_WORDS, NONE_WORDS, SIGN_OFF_WORDS
from flows.evidence import read_date

SETTINGS = ("delivery_type", "categories", "language", "target_audit_date")


class SettingProblem(ValueError):
    """``reason``: ``unknown`` (not one of ``choices``), ``required``, ``unreadable`` or
    ``past`` (an audit date before today)."""

    def __init__(self, setting: str, reason: str, text: str, choices: tuple[str, ...] = ()):
        super().__init__(f"{setting}: {reason}: {text}")
        self.setting, self.reason, self.text, self.choices = setting, reason, text, choices


def _choice(setting: str, text: str, choices: tuple[str, ...], words: dict[str, str]) -> str:
    value = text.strip().lower().replace(" ", "_")
    if value.isdigit() and 1 <= int(value) <= len(choices):
        return choices[int(value) - 1]
    value = words.get(value.replace("_", "-"), words.get(value, value))
    if value not in choices:
        raise SettingProblem(setting, "required" if not text.strip() else "unknown", text.strip(), choices)
    return value


def parse_delivery(text: str, checklist: Checklist) -> str:
    return _choice("delivery_type", text, tuple(d.id for d in checklist.delivery_types), DELIVERY_WORDS)


def parse_language(text: str) -> str:
    return _choice("language", text, LANGUAGES, LANGUAGE_WORDS)


def parse_categories(text: str, checklist: Checklist) -> tuple[str, ...]:
    """Ids or list numbers, separated by commas (also "，", "、" or ";")."""
    ids = tuple(c.id for c in checklist.categories)
    chosen: list[str] = []
    for raw in text.replace("，", ",").replace("、", ",").replace(";", ",").split(","):
        value = raw.strip()
        if not value:
            continue
        if value.isdigit() and 1 <= int(value) <= len(ids):
            value = ids[int(value) - 1]
        if value not in ids:
            raise SettingProblem("categories", "unknown", value, ids)
        if value not in chosen:
            chosen.append(value)
    if not chosen:
        raise SettingProblem("categories", "required", text.strip(), ids)
    return tuple(chosen)


def parse_audit_date(text: str, today: date) -> date | None:
    """A target audit date, today or later; ``none`` (or nothing) for no target."""
    if text.strip().lower() in ("", *NONE_WORDS):
        return None
    day = read_date(text, today)
    if day is None:
        raise SettingProblem("target_audit_date", "unreadable", text.strip())
    if day < today:
        raise SettingProblem("target_audit_date", "past", text.strip())
    return day


def parse_reviewers(text: str) -> tuple[str, ...]:
    """Names separated by commas (also "，", "、" or ";"); ``none`` for no reviewers."""
    if text.strip().lower() in NONE_WORDS:
        return ()
    chosen: list[str] = []
    for raw in text.replace("，", ",").replace("、", ",").replace(";", ",").split(","):
        name = " ".join(raw.split())
        if name and name.casefold() not in (c.casefold() for c in chosen):
            chosen.append(name)
    if not chosen:
        raise SettingProblem("reviewers", "required", text.strip())
    return tuple(chosen)


def parse_require_sign_off(text: str) -> bool:
    value = SIGN_OFF_WORDS.get(text.strip().lower())
    if value is None:
        raise SettingProblem("require_sign_off", "unknown", text.strip(),
                             tuple(word for word in SIGN_OFF_WORDS if word.isascii()))
    return value


def parse_value(setting: str, text: str, checklist: Checklist, today: date) -> object:
    if setting == "reviewers":
        return parse_reviewers(text)
    if setting == "require_sign_off":
        return parse_require_sign_off(text)
    if setting == "delivery_type":
        return parse_delivery(text, checklist)
    if setting == "categories":
        return parse_categories(text, checklist)
    if setting == "language":
        return parse_language(text)
    return parse_audit_date(text, today)
