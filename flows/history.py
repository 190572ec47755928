"""An application's history as the walk reads it: who changed what, from what, to what,
when — and undoing a person's last change.

Pure: storage reads the history rows into :class:`Change` values and writes whatever an
undo changes back through the usual diff, so the undo is itself a new history entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import groupby

from flows.application import ApplicationState, Evidence
from flows.checklist import Checklist

# The field of the row an undo adds, naming the rows it reverted (their ids, comma-separated):
# an undone step is never undone twice, and a second undo reaches the step before.
UNDO = "undo"
CREATED = "created"
# A reviewer's decision (flows.sign_off), and its voiding by a later change.
SIGN_OFF = "sign_off"
# Fields an undo can put back. The others (a case study's fields, the PDM channel, reminder
# lead times, the creation) are changed back with their own commands.
ANSWER_FIELDS = ("status", "note", "assignee")
SETTING_FIELDS = ("delivery_type", "categories", "language", "target_audit_date")
EVIDENCE_FIELDS = ("evidence", "evidence_date")
REVERTIBLE = (*ANSWER_FIELDS, *SETTING_FIELDS, *EVIDENCE_FIELDS)


@dataclass(frozen=True)
class Change:
    """One history row. ``id`` orders rows and names them in an undo, not part of equality."""

    item_id: str | None
    field: str
    old_value: str | None
    new_value: str | None
    actor: str
    at: datetime
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Undo:
    """What undoing ``actor``'s last step does: the state it gives, the rows it reverts, or
    why it cannot (``problem``: ``nothing``, ``unsupported`` or ``changed_since``)."""

    state: ApplicationState
    reverted: tuple[Change, ...] = ()
    problem: str | None = None
    blocker: Change | None = None  # the row that stops it (unsupported field, or a later change)


def steps(changes: tuple[Change, ...] | list[Change]) -> list[tuple[Change, ...]]:
    """The rows grouped by the step that wrote them: one save writes its rows together,
    with one actor and one moment."""
    ordered = sorted(changes, key=lambda c: c.id or 0)
    return [tuple(group) for _, group in groupby(ordered, key=lambda c: (c.actor, c.at))]


def undo(checklist: Checklist, state: ApplicationState, changes: tuple[Change, ...], actor: str) -> Undo:
    """Revert ``actor``'s newest step not yet undone (steps that are undos are skipped)."""
    undone = {int(i) for c in changes if c.field == UNDO for i in (c.new_value or "").split(",") if i}
    # An undo's own step, an undone one and the creation are not candidates.
    candidates = [s for s in steps(changes) if s[0].actor == actor and s[0].id not in undone
                  and not any(c.field in (UNDO, CREATED) for c in s)]
    if not candidates:
        return Undo(state, problem="nothing")
    step = candidates[-1]
    # A sign-off voided by a step goes with it: undoing the step does not bring it back.
    side_effects = (SIGN_OFF,) if any(c.field in REVERTIBLE for c in step) else ()
    unsupported = next((c for c in step if c.field not in (*REVERTIBLE, *side_effects)), None)
    if unsupported is not None:
        return Undo(state, problem="unsupported", blocker=unsupported)
    later = next((c for c in changes if (c.id or 0) > (step[-1].id or 0) and c.field != UNDO
                  and any((c.item_id, c.field) == (s.item_id, s.field) for s in step)), None)
    if later is not None:
        return Undo(state, problem="changed_since", blocker=later)
    for change in reversed(step):
        if change.field in REVERTIBLE:
            state = _revert(checklist, state, change)
    return Undo(state, reverted=step)


def _revert(checklist: Checklist, state: ApplicationState, change: Change) -> ApplicationState:
    old = change.old_value
    if change.field in SETTING_FIELDS:
        value: object = old
        if change.field == "categories":
            value = tuple(old.split(",")) if old else ()
        elif change.field == "target_audit_date":
            value = date.fromisoformat(old) if old else None
        return replace(state, **{change.field: value})
    answer = state.answer(change.item_id)
    if change.field == "status":
        answer = replace(answer, status=old, answered_by=answer.answered_by if old else "")
    elif change.field in ANSWER_FIELDS:
        answer = replace(answer, **{change.field: old or ""})
    elif change.field == "evidence":
        answer = replace(answer, evidence=_without_last(answer.evidence, lambda e: e.text == change.new_value))
    else:  # evidence_date: the newest piece carrying the new date goes back to the old one
        item = checklist.item(change.item_id)
        day = date.fromisoformat(old) if old else None
        evidence = list(answer.evidence)
        for index in range(len(evidence) - 1, -1, -1):
            if evidence[index].evidence_date and evidence[index].evidence_date.isoformat() == change.new_value:
                evidence[index] = replace(evidence[index], evidence_date=day,
                                          expires_on=item.expiry(day) if day else None)
                break
        answer = replace(answer, evidence=tuple(evidence))
    return state.with_answer(change.item_id, answer)


def _without_last(evidence: tuple[Evidence, ...], matches) -> tuple[Evidence, ...]:
    for index in range(len(evidence) - 1, -1, -1):
        if matches(evidence[index]):
            return evidence[:index] + evidence[index + 1:]
    return evidence
