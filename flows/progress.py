"""Progress of an application per part of the checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flows.application import (
    EXPIRED,
    MET,
    NOT_APPLICABLE,
    NOT_MET,
    SKIPPED,
    ApplicationState,
    effective_status,
)
from flows.checklist import Checklist, Item, Text


@dataclass(frozen=True)
class PartProgress:
    part: str
    title: Text  # the checklist's name for the part, the one every output shows
    applicable: int
    answered: int
    met: int
    not_met: int
    not_applicable: int
    skipped: int
    expired: int


@dataclass(frozen=True)
class Expiring:
    item: Item
    expires_on: date
    days_left: int


def item_statuses(checklist: Checklist, state: ApplicationState, on: date) -> list[str | None]:
    """The status as of ``on`` (None = not answered) of each of the state's applicable
    items (:meth:`Checklist.applicable_items`), in that order."""
    return [effective_status(state.answer(item.id), on) for item in checklist.applicable_items(state.delivery_type)]


def part_progress(checklist: Checklist, state: ApplicationState, today: date) -> list[PartProgress]:
    return count_parts(checklist, checklist.applicable_items(state.delivery_type),
                       item_statuses(checklist, state, today))


def count_parts(checklist: Checklist, items: tuple[Item, ...], statuses: list[str | None]) -> list[PartProgress]:
    """Per part, how many of ``items`` have each status (``statuses`` in the same order)."""
    by_part: dict[str, list[str | None]] = {part.id: [] for part in checklist.parts}
    # Plain lists, no (item, status) pairs: a digest counts this for every application,
    # and tens of thousands of small objects kept Python's garbage collector busy.
    for item, status in zip(items, statuses, strict=True):
        by_part[item.part].append(status)
    result = []
    for part in checklist.parts:
        statuses = by_part[part.id]
        # list.count, not a Counter per part: a Counter costs more to build than these counts.
        unanswered, skipped = statuses.count(None), statuses.count(SKIPPED)
        result.append(
            PartProgress(
                part=part.id,
                title=part.title,
                applicable=len(statuses),
                answered=len(statuses) - unanswered - skipped,
                met=statuses.count(MET),
                not_met=statuses.count(NOT_MET),
                not_applicable=statuses.count(NOT_APPLICABLE),
                skipped=skipped,
                expired=statuses.count(EXPIRED),
            )
        )
    return result


def expiring_within(
    checklist: Checklist, state: ApplicationState, today: date, days: int
) -> list[Expiring]:
    """Met evidence whose window closes within ``days`` (still valid today), soonest first."""
    return expiring_by(checklist, state, today, today + timedelta(days=days))


def expiring_by(checklist: Checklist, state: ApplicationState, today: date, last_day: date) -> list[Expiring]:
    """Met evidence still valid today whose last valid day is ``last_day`` or earlier."""
    found = []
    answers = state.answers  # looked up directly: the digest runs this for every item of every application
    for item in checklist.applicable_items(state.delivery_type):
        answer = answers.get(item.id)
        if answer is None or answer.status != MET:
            continue
        expires_on = answer.expires_on
        if expires_on is not None and today <= expires_on <= last_day:
            found.append(Expiring(item, expires_on, (expires_on - today).days))
    return sorted(found, key=lambda e: e.expires_on)


def stale_by_audit(checklist: Checklist, state: ApplicationState, today: date) -> list[Expiring]:
    """Valid today, but expired by the target audit date: flagged now, not on the day."""
    audit = state.target_audit_date
    if audit is None or audit <= today:
        return []
    return expiring_by(checklist, state, today, audit - timedelta(days=1))
