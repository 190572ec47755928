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
    return count_parts(checklist, state.delivery_type, item_statuses(checklist, state, today))


def count_parts(checklist: Checklist, delivery_type: str, statuses: list[str | None]) -> list[PartProgress]:
    """Per part, how many applicable items have each status (``statuses``: one per item
    of :meth:`Checklist.applicable_items`, in that order)."""
    result = []
    # Each part's statuses picked by the checklist's table of its places: a digest counts
    # this for every application, and a pass sorting item by item cost more than the counts.
    status_at = statuses.__getitem__
    for part, places in checklist.part_places(delivery_type):
        statuses_of_part = list(map(status_at, places))
        # list.count, not a Counter per part: a Counter costs more to build than these counts.
        unanswered, skipped = statuses_of_part.count(None), statuses_of_part.count(SKIPPED)
        result.append(
            PartProgress(
                part=part.id,
                title=part.title,
                applicable=len(statuses_of_part),
                answered=len(statuses_of_part) - unanswered - skipped,
                met=statuses_of_part.count(MET),
                not_met=statuses_of_part.count(NOT_MET),
                not_applicable=statuses_of_part.count(NOT_APPLICABLE),
                skipped=skipped,
                expired=statuses_of_part.count(EXPIRED),
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
    places = checklist.places(state.delivery_type)
    # The answers, not every applicable item: most items of most applications are not answered.
    met = [(places[item_id], answer.expires_on) for item_id, answer in state.answers.items()
           if answer.status == MET and answer.expires_on is not None and item_id in places]
    return expiring_among(checklist.applicable_items(state.delivery_type), met, today, last_day)


def expiring_among(items: tuple[Item, ...], met: list[tuple[int, date]], today: date,
                   last_day: date) -> list[Expiring]:
    """Of the met answers with dated evidence — ``met``: the place of each in ``items`` (the
    applicable items) and its evidence's last valid day —, those still valid today that
    lapse by ``last_day``, soonest first; readiness collects ``met`` as it judges."""
    found = [(place, Expiring(items[place], expires_on, (expires_on - today).days))
             for place, expires_on in met if today <= expires_on <= last_day]
    # Soonest first; items expiring the same day in checklist order.
    return [expiring for _, expiring in sorted(found, key=lambda found: (found[1].expires_on, found[0]))]


def stale_by_audit(checklist: Checklist, state: ApplicationState, today: date) -> list[Expiring]:
    """Valid today, but expired by the target audit date: flagged now, not on the day."""
    audit = state.target_audit_date
    if audit is None or audit <= today:
        return []
    return expiring_by(checklist, state, today, audit - timedelta(days=1))
