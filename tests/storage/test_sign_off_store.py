"""Sign-off as stored (issue 18): a decision and what it saw survive a reload, every
decision and every voiding is a history row, and a change made outside the walk (the
reminder pass flipping evidence to expired) voids an approval by the same rule."""

from __future__ import annotations

from flows.application import ApplicationState
from storage import reminders, walks
from storage.applications import history


def test_a_decision_is_stored_with_its_history_and_voided_outside_the_walk(db, now):
    state = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas", checklist_id="aws-retail-competency",
                                             language="en", reviewers=("bob",)), "alice", now)
    walks.on_item(db, state.id, "T1.24", "yes", "alice", now)
    walks.on_item(db, state.id, "T1.24", "evidence https://x.example/drill.pdf", "alice", now)
    walks.on_item(db, state.id, "T1.24", "date 2026-01-01", "alice", now)
    walks.on_item(db, state.id, "T1.24", "approve", "bob", now)
    stored = walks.load(db, state.id)
    review = stored.answer("T1.24").review
    assert stored.reviewers == ("bob",) and not stored.require_sign_off
    assert (review.decision, review.by, review.at, review.reason) == ("approved", "bob", now, "")
    assert review.evidence_ids == tuple(e.id for e in stored.answer("T1.24").evidence)

    # The drill of 2026-01-01 counts until 2027-01-01: the day after, the reminder pass flips it.
    flip = reminders.flip_expired(db, state.id, "T1.24", "reminders", now.replace(year=2027, month=1, day=2))
    assert (flip.expired, flip.voided_sign_off_by) == (True, "bob")
    assert reminders.flip_expired(db, state.id, "T1.24", "reminders", now.replace(year=2027, month=1, day=3)) == (
        reminders.Flip(expired=True))  # an interrupted pass's flip, again: nothing more is voided
    assert walks.load(db, state.id).answer("T1.24").review is None
    rows = [(c.field, c.actor, c.old_value, c.new_value) for c in history(db, state.id) if c.field == "sign_off"]
    evidence = f"evidence={review.evidence_ids[0]}"
    assert rows == [("sign_off", "bob", None, f"approved bob {evidence}"),
                    ("sign_off", "reminders", f"approved bob {evidence}", None)]
