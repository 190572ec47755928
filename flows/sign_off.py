"""Sign-off: a reviewer's approval of a met item's evidence, or a request for changes.

Pure, and the one place of its rules:

* **Who may sign off**: one of the application's reviewers, who neither answered the
  item nor added any of its evidence. With no reviewers, sign-off is off.
* **What may be signed off**: an applicable item typed in by the team (not derived from
  the case studies) whose evidence the checklist asks for, met today, with evidence.
* **What voids a sign-off**: an approval is voided by any later change of the answer
  (given again, or another status), of its evidence (added or taken away) or of an
  evidence date; a request for changes stands until the item is answered again.
* **What counts as signed off**: an approval of an item that is met on the day judged.
* **The verdict**: with ``require_sign_off`` (and reviewers), every met item that could
  be signed off and is not keeps the application from being ready.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from flows.application import (
    MAX_TEXT,
    MET,
    REQUIRED,
    TOO_LONG,
    Answer,
    ApplicationState,
    changed_answers,
    effective_status,
)
from flows.checklist import Checklist, Item

APPROVED = "approved"
CHANGES_REQUESTED = "changes_requested"


def changes_reason(text: str) -> tuple[str, str | None]:
    """The reason of a request for changes as a form gives it: on one line, and its
    problem (``REQUIRED``, ``TOO_LONG``) or None. A typed line has its length checked as
    every line is (:mod:`flows.walk`)."""
    reason = " ".join(text.split())
    if not reason:
        return reason, REQUIRED
    return reason, TOO_LONG if len(reason) > MAX_TEXT else None
DECISIONS = (APPROVED, CHANGES_REQUESTED)

# Why a sign-off is refused (the adapters word each).
OFF, NOT_REVIEWER, OWN_ANSWER, OWN_EVIDENCE, NOT_MET, NO_EVIDENCE, NOT_REVIEWABLE = (
    "off", "not_reviewer", "own_answer", "own_evidence", "not_met", "no_evidence", "not_reviewable")


@dataclass(frozen=True)
class Review:
    """A reviewer's decision on an item: who, when, why (changes requested), and the
    evidence it saw (stored ids; any change of them voids an approval)."""

    decision: str
    by: str
    at: datetime
    reason: str = ""
    evidence_ids: tuple[int, ...] = ()

    @property
    def approved(self) -> bool:
        return self.decision == APPROVED


@dataclass(frozen=True)
class Voided:
    """An approval a change took away, for the reviewer to be told."""

    item: Item
    review: Review


def same_person(one: str, other: str) -> bool:
    """Names typed in the terminal match however they are cased; Slack ids are exact anyway."""
    return one.strip().casefold() == other.strip().casefold()


def is_reviewer(state: ApplicationState, who: str) -> bool:
    return any(same_person(reviewer, who) for reviewer in state.reviewers)


def reviewable(item: Item) -> bool:
    """An item whose evidence a reviewer can judge: typed in by the team, with evidence asked for."""
    return item.needs_evidence and not item.derived_from


def refusal(state: ApplicationState, item: Item, who: str, today: date) -> str | None:
    """Why ``who`` may not sign ``item`` off (approve or request changes), or None."""
    if not state.reviewers:
        return OFF
    if not is_reviewer(state, who):
        return NOT_REVIEWER
    if not reviewable(item):
        return NOT_REVIEWABLE
    answer = state.answer(item.id)
    if effective_status(answer, today) != MET:
        return NOT_MET
    if not answer.evidence:
        return NO_EVIDENCE
    if same_person(answer.answered_by, who):
        return OWN_ANSWER
    if any(same_person(evidence.added_by, who) for evidence in answer.evidence):
        return OWN_EVIDENCE
    return None


def decide(state: ApplicationState, item: Item, decision: str, who: str, now: datetime,
           reason: str = "") -> ApplicationState:
    """The state with ``who``'s decision on ``item`` (checked by :func:`refusal` first)."""
    answer = state.answer(item.id)
    review = Review(decision, who, now, reason if decision == CHANGES_REQUESTED else "",
                    tuple(evidence.id for evidence in answer.evidence if evidence.id is not None))
    return state.with_answer(item.id, replace(answer, review=review))


def _answered(answer: Answer) -> tuple:
    return answer.status, answer.answered_by, answer.answered_at


def _evidence(answer: Answer) -> tuple:
    return tuple((evidence.id, evidence.text, evidence.evidence_date) for evidence in answer.evidence)


def voids(before: Answer, after: Answer) -> bool:
    """Whether the change from ``before`` to ``after`` takes away ``before``'s review."""
    review = before.review
    if review is None or after.review != review:
        return False  # none to void, or the change is the review itself
    if _answered(before) != _answered(after):
        return True
    return review.approved and _evidence(before) != _evidence(after)


def settle(checklist: Checklist, before: ApplicationState,
           after: ApplicationState) -> tuple[ApplicationState, tuple[Voided, ...]]:
    """``after`` without the reviews its changes voided, and the approvals voided."""
    voided = []
    state = after
    for item_id, old, answer in changed_answers(before, after):
        if voids(old, answer):
            state = state.with_answer(item_id, replace(answer, review=None))
            item = checklist.item(item_id)
            if old.review.approved and item is not None:
                voided.append(Voided(item, old.review))
    return state, tuple(voided)


def signed_off(answer: Answer, on: date) -> bool:
    """Approved, and met on ``on``."""
    return answer.review is not None and answer.review.approved and effective_status(answer, on) == MET


def unreviewed(checklist: Checklist, state: ApplicationState, on: date) -> list[Item]:
    """Met on ``on``, reviewable, and not signed off: what ``require_sign_off`` holds back."""
    if not state.reviewers:
        return []
    return [item for item in checklist.applicable_items(state.delivery_type) if reviewable(item)
            and effective_status(state.answer(item.id), on) == MET and not signed_off(state.answer(item.id), on)]


def ready_since(answer: Answer) -> datetime | None:
    """When the item last became ready for review: answered, or its newest evidence added."""
    moments = [m for m in (answer.answered_at, *(e.added_at for e in answer.evidence)) if m is not None]
    return max(moments) if moments else None


def waiting(checklist: Checklist, state: ApplicationState, today: date) -> list[Item]:
    """Items waiting for sign-off, oldest first: met with evidence, no decision standing
    (one with changes requested waits for the team, not the reviewer)."""
    found = [item for item in unreviewed(checklist, state, today)
             if state.answer(item.id).evidence and state.answer(item.id).review is None]
    return sorted(found, key=lambda item: ready_since(state.answer(item.id)) or datetime.min)


@dataclass(frozen=True)
class PartSignOff:
    part: str
    title: object  # the checklist's Text for the part
    signed_off: int
    met: int  # met and reviewable: what could be signed off


def part_sign_offs(checklist: Checklist, state: ApplicationState, today: date) -> list[PartSignOff]:
    """Per part, how many met reviewable items are signed off."""
    counts = {part.id: [0, 0] for part in checklist.parts}
    for item in checklist.applicable_items(state.delivery_type):
        answer = state.answer(item.id)
        if reviewable(item) and effective_status(answer, today) == MET:
            counts[item.part][1] += 1
            counts[item.part][0] += signed_off(answer, today)
    return [PartSignOff(part.id, part.title, *counts[part.id]) for part in checklist.parts]


def blocks_verdict(state: ApplicationState) -> bool:
    """Whether unreviewed met items keep the application from being audit-ready."""
    return state.require_sign_off and bool(state.reviewers)
