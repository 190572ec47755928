"""Is an application ready for its audit? Progress, blocking gaps, ageing evidence, verdict.

Pure: no SQL, no Slack, no clock — ``today`` is passed in. Decisions:

* The verdict is for the **audit day**: the target audit date when it lies after today,
  otherwise today (no target date, or a target already past). Evidence counts up to and
  including its ``expires_on`` (:func:`flows.application.is_expired`), so evidence expiring
  on the audit day still counts and evidence expiring the day before does not.
* A **blocking gap** is any applicable item whose status on the audit day is not met or
  not applicable (not met, not answered, skipped, expired — including met today but
  expired by then), and every finding of :func:`flows.case_studies.check` judged with
  the audit day as its target date.
* Progress per part and the expiring evidence are as of today, like ``status``.
* With reviewers (:mod:`flows.sign_off`), the met items not signed off on the audit day
  are listed apart; when the application requires sign-off they are blocking too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from itertools import compress, repeat
from operator import eq, is_, itemgetter

from flows.application import (
    EXPIRED,
    MET,
    NOT_APPLICABLE,
    SKIPPED,
    ApplicationState,
    is_expired,
)
from flows.case_studies import Assessment, CaseStudy, Finding, SolutionDocuments, check
from flows.checklist import Checklist, Item
from flows.progress import Expiring, PartProgress, count_parts, expiring_among
from flows.sign_off import PartSignOff, blocks_verdict, part_sign_offs, unreviewed

SOON_DAYS = 30
EXPIRING_DAYS = 90
DONE = (MET, NOT_APPLICABLE)


@dataclass(frozen=True)
class ItemGap:
    """An item blocking the verdict on the audit day, with its status then."""

    item: Item
    status: str | None  # on the audit day; None = not answered
    lapses_on: date | None = None  # met today, but this is its last valid day before the audit


@dataclass(frozen=True)
class Readiness:
    state: ApplicationState
    today: date
    audit_day: date
    parts: tuple[PartProgress, ...]
    # The applicable items blocking on the audit day, in checklist order within each kind. Not
    # answered and skipped ones as items, without an ItemGap each: most items of most
    # applications are not answered yet, and a digest judges thousands of applications.
    failing: tuple[ItemGap, ...]  # answered and not good enough: not met, or expired by then
    unanswered: tuple[Item, ...]
    skipped: tuple[Item, ...]
    case_study_gaps: tuple[Finding, ...]
    expiring: tuple[Expiring, ...]  # within EXPIRING_DAYS of today, soonest first
    case_studies: Assessment
    sign_offs: tuple[PartSignOff, ...] = ()  # per part, as of today; empty without reviewers
    unreviewed: tuple[Item, ...] = ()  # met on the audit day, not signed off
    checklist: Checklist | None = None  # the release the application answers

    @property
    def sign_off_required(self) -> bool:
        return blocks_verdict(self.state)

    @property
    def past_acceptance(self) -> bool:
        """The target audit falls after the last day AWS accepts the release answered: the
        application must move to a newer release before that audit."""
        audit = self.state.target_audit_date
        return self.checklist is not None and audit is not None and not self.checklist.accepted_on(audit)

    @cached_property  # the digest sorts by it, counts it and shows it
    def ready(self) -> bool:
        """Audit-ready on ``audit_day``: no blocking gap (unreviewed items are one when the
        application requires sign-off), and a release AWS still accepts then."""
        return (not self.item_gap_count and not self.case_study_gaps
                and not (self.sign_off_required and self.unreviewed) and not self.past_acceptance)

    @property
    def item_gap_count(self) -> int:
        return len(self.failing) + len(self.unanswered) + len(self.skipped)

    @property
    def item_gaps(self) -> tuple[ItemGap, ...]:
        """Every blocking item as a gap, in checklist order."""
        gaps = {gap.item.id: gap for gap in self.failing}
        gaps.update((item.id, ItemGap(item, SKIPPED)) for item in self.skipped)
        gaps.update((item.id, ItemGap(item, None)) for item in self.unanswered)
        return tuple(gaps[item.id] for item in self.checklist.applicable_items(self.state.delivery_type)
                     if item.id in gaps)

    @property
    def unanswered_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.unanswered)

    @property
    def skipped_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.skipped)

    @cached_property
    def gap_count(self) -> int:
        return (self.item_gap_count + len(self.case_study_gaps)
                + (len(self.unreviewed) if self.sign_off_required else 0))

    @cached_property
    def expiring_soon(self) -> tuple[Expiring, ...]:
        """Evidence expiring within SOON_DAYS of today."""
        return tuple(e for e in self.expiring if e.days_left <= SOON_DAYS)


def audit_day(state: ApplicationState, today: date) -> date:
    target = state.target_audit_date
    return target if target is not None and target > today else today


def readiness(
    checklist: Checklist,
    state: ApplicationState,
    case_studies: list[CaseStudy] | tuple[CaseStudy, ...],
    documents: SolutionDocuments,
    today: date,
) -> Readiness:
    day = audit_day(state, today)
    items = checklist.applicable_items(state.delivery_type)
    places = checklist.places(state.delivery_type)
    # Only the answered items are judged one by one: most items of most applications are
    # not answered yet, and a digest judges thousands of applications. Not answered is
    # None on every day, and only met evidence ages (``effective_status``), so the not
    # answered and skipped items are the same today and on the audit day.
    today_statuses: list[str | None] = [None] * len(items)
    failing: list[tuple[int, ItemGap]] = []  # with its place: in checklist order at the end
    dated: list[tuple[int, date]] = []  # met answers with dated evidence: place, last valid day
    for item_id, answer in state.answers.items():
        place = places.get(item_id)
        if place is None:  # not applicable to this delivery type, or no longer in the checklist
            continue
        # effective_status on both days, written out: this runs for every answer of every
        # application, and only met evidence ages.
        status = answer.status
        if status == MET:
            expires_on = answer.expires_on
            if expires_on is None:
                today_statuses[place] = MET
                continue
            dated.append((place, expires_on))
            if not is_expired(expires_on, day):  # met on the audit day, so today too
                today_statuses[place] = MET
                continue
            status = EXPIRED if is_expired(expires_on, today) else MET
            today_statuses[place] = status
            failing.append((place, ItemGap(items[place], EXPIRED, expires_on if status == MET else None)))
        else:
            today_statuses[place] = status
            if status not in DONE and status is not None and status != SKIPPED:
                failing.append((place, ItemGap(items[place], status)))
    failing.sort(key=itemgetter(0))
    assessment = check(case_studies, documents, state.delivery_type, checklist, today, day)
    return Readiness(
        state=state,
        today=today,
        audit_day=day,
        parts=tuple(count_parts(checklist, state.delivery_type, today_statuses)),
        failing=tuple(gap for _, gap in failing),
        # compress and map, not a comprehension: C walks every applicable item of every application.
        unanswered=tuple(compress(items, map(is_, today_statuses, repeat(None)))),
        skipped=tuple(compress(items, map(eq, today_statuses, repeat(SKIPPED)))),
        case_study_gaps=assessment.findings,
        expiring=tuple(expiring_among(items, dated, today, today + timedelta(days=EXPIRING_DAYS))),
        case_studies=assessment,
        sign_offs=tuple(part_sign_offs(checklist, state, today)) if state.reviewers else (),
        unreviewed=tuple(unreviewed(checklist, state, day)),
        checklist=checklist,
    )
