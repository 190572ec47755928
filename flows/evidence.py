"""Dates of evidence: parsing what people type, and whether evidence still counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser

from flows.application import is_expired
from flows.checklist import Item

_CJK_DATE = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?\s*$")


@dataclass(frozen=True)
class DateProblem:
    """Why a typed date was refused: ``unreadable`` or ``future``."""

    reason: str
    text: str


def local_today(now: datetime, timezone: str) -> date:
    """The calendar date at ``now`` in the application's time zone."""
    return now.astimezone(zone(timezone)).date()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def read_date(text: str, today: date) -> date | None:
    """A date as people type it (2026-03-01, 1 March 2026, 2026年3月1日); None when unreadable."""
    cleaned = text.strip()
    cjk = _CJK_DATE.match(cleaned)
    if cjk:
        cleaned = "-".join(cjk.groups())
    try:
        return date_parser.isoparse(cleaned).date()
    except ValueError:
        try:
            # A fixed default so that a partial date never borrows today's fields.
            parsed = date_parser.parse(cleaned, default=datetime(today.year, 1, 1))
        except (ValueError, OverflowError):
            return None
        return parsed.date()


def parse_evidence_date(text: str, today: date) -> date | DateProblem:
    """An evidence date: readable (:func:`read_date`) and not in the future."""
    parsed = read_date(text, today)
    if parsed is None:
        return DateProblem("unreadable", text)
    if parsed > today:
        return DateProblem("future", text)
    return parsed


def expired_on_arrival(item: Item, evidence_date: date, today: date) -> bool:
    return is_expired(item.expiry(evidence_date), today)
