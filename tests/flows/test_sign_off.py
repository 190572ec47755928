"""Sign-off's rules (flows.sign_off) through the walk's words, without a database: who may
sign off, what voids a sign-off, what counts, and the verdict that requires it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from flows.application import MAX_TEXT, MET, REQUIRED, TOO_LONG, ApplicationState, Evidence
from flows.checklist import get_checklist
from flows.commands import parse_command
from flows.history import undo
from flows.readiness import readiness
from flows.settings import SettingProblem, parse_value
from flows.sign_off import APPROVED, CHANGES_REQUESTED, changes_reason, part_sign_offs, settle, unreviewed, waiting
from flows.walk import handle, on_item, record_evidence
from tests.flows.test_readiness import CASE_STUDIES, DOCUMENTS, ready_state

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
TODAY = NOW.date()
CHECKLIST = get_checklist()


def stored(state: ApplicationState) -> ApplicationState:
    """Evidence as storage hands it back: with ids (a sign-off records the ids it saw)."""
    answers = {item_id: replace(answer, evidence=tuple(replace(e, id=e.id or 100 + n)
                                                       for n, e in enumerate(answer.evidence)))
               for item_id, answer in state.answers.items()}
    return replace(state, answers=answers)


def say(state: ApplicationState, line: str, user: str, now: datetime = NOW, item: str = "P1.2"):
    """``line`` said to ``item`` (as a thread reply or a button does); the state as stored after it."""
    outcome = on_item(CHECKLIST, state, item, line, user, now)
    return stored(outcome.state), outcome.messages


@pytest.fixture
def answered() -> ApplicationState:
    """P1.2 met by alice with alice's evidence; reviewers bob and carol."""
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id, language="en",
                             cursor="P1.1", reviewers=("Bob", "carol"))
    state, _ = say(state, "yes", "alice")
    state, _ = say(state, "evidence https://x.example/tier.pdf", "alice")
    return state


def test_a_reviewer_approves_and_the_decision_records_who_when_and_the_evidence_seen(answered):
    state, messages = say(answered, "approve", "bob")  # names match however they are cased
    review = state.answer("P1.2").review
    assert (review.decision, review.by, review.at, review.evidence_ids) == (APPROVED, "bob", NOW, (100,))
    assert [m.name for m in messages] == ["signed_off"]
    counts = [(p.part, p.signed_off, p.met) for p in part_sign_offs(CHECKLIST, state, TODAY)]
    assert counts[0] == ("prerequisites", 1, 1)


@pytest.mark.parametrize("who,problem", [("alice", "own_answer"), ("dave", "not_reviewer")])
def test_refusals_say_why_and_change_nothing(answered, who, problem):
    state = replace(answered, reviewers=("alice", "bob"))  # alice reviews, but she answered P1.2
    after, messages = say(state, "approve", who)
    assert after.answer("P1.2").review is None
    assert [(m.name, m.params["problem"]) for m in messages] == [("sign_off_refused", problem)]


def test_who_added_evidence_cannot_sign_off(answered):
    state, _ = say(answered, "evidence https://x.example/letter.pdf", "carol")
    state, messages = say(state, "approve", "carol")
    assert messages[0].params["problem"] == "own_evidence" and state.answer("P1.2").review is None
    state, _ = say(state, "approve", "bob")
    assert state.answer("P1.2").review.approved


@pytest.mark.parametrize("setup,problem", [
    (lambda s: replace(s, reviewers=()), "off"),
    (lambda s: say(s, "no", "alice", LATER)[0], "not_met"),
    (lambda s: replace(s, answers={**s.answers, "P1.2": replace(s.answer("P1.2"), evidence=())}), "no_evidence"),
])
def test_nothing_but_a_met_item_with_evidence_is_signed_off(answered, setup, problem):
    state, messages = say(setup(answered), "changes the letter is old", "bob")
    assert messages[-1].params["problem"] == problem and state.answer("P1.2").review is None


def test_an_item_without_evidence_asked_is_not_signed_off(answered):
    state, _ = say(answered, "yes", "alice", item="P1.1")
    state, messages = say(state, "approve P1.1", "bob", item="P1.1")
    assert messages[-1].params["problem"] == "not_reviewable"


@pytest.mark.parametrize("change", [
    lambda s: say(s, "yes", "alice", LATER)[0],  # answered again
    lambda s: say(s, "no", "alice", LATER)[0],  # another answer
    lambda s: say(s, "evidence https://x.example/new.pdf", "alice", LATER)[0],  # evidence added
    lambda s: stored(record_evidence(CHECKLIST, s, "P1.2", "https://x.example/form.pdf", "", "", "alice",
                                     LATER).state),  # evidence from the form
])
def test_every_change_of_answer_or_evidence_voids_an_approval(answered, change):
    approved, _ = say(answered, "approve", "bob")
    after = change(approved)
    assert after.answer("P1.2").review is None
    assert unreviewed(CHECKLIST, after, TODAY) == ([CHECKLIST.item("P1.2")]
                                                   if after.answer("P1.2").status == MET else [])


def test_a_changed_evidence_date_voids_an_approval_and_the_reviewer_is_named():
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id, language="en",
                             cursor="T1.24", reviewers=("bob",))
    state, _ = say(state, "yes", "alice", item="T1.24")
    state, _ = say(state, "evidence https://x.example/drill.pdf", "alice", item="T1.24")
    state, _ = say(state, "date 2026-06-01", "alice", item="T1.24")
    state, _ = say(state, "approve", "bob", item="T1.24")
    assert state.answer("T1.24").review.approved
    state, messages = say(state, "date 2026-07-01", "alice", LATER, item="T1.24")
    voided = [m for m in messages if m.name == "sign_off_voided"]
    assert state.answer("T1.24").review is None and voided[0].params["review"].by == "bob"


def test_an_evidence_taken_away_by_undo_voids_an_approval(answered):
    from flows.history import Change

    approved, _ = say(answered, "approve", "bob")
    rows = (Change("P1.2", "status", None, MET, "alice", NOW, 1),
            Change("P1.2", "evidence", None, "https://x.example/tier.pdf", "alice", NOW, 2),
            Change("P1.2", "sign_off", None, "approved bob", "bob", LATER, 3))
    # alice's last step is the evidence (the status went with it, at the same moment)
    result = undo(CHECKLIST, approved, rows, "alice")
    assert result.problem is None
    after, voided = settle(CHECKLIST, approved, result.state)
    assert after.answer("P1.2").review is None and voided[0].review.by == "bob"


def test_changes_requested_stand_until_the_item_is_answered_again(answered):
    state, messages = say(answered, "changes The tier letter is from 2019.", "bob")
    review = state.answer("P1.2").review
    assert (review.decision, review.reason) == (CHANGES_REQUESTED, "The tier letter is from 2019.")
    assert messages[-1].params["tell"] == "alice"  # the answerer, as nobody is assigned
    assert waiting(CHECKLIST, state, TODAY) == []  # it waits for the team now, not the reviewer
    state, _ = say(state, "evidence https://x.example/tier-2026.pdf", "alice", LATER)
    assert state.answer("P1.2").review.decision == CHANGES_REQUESTED
    state, _ = say(state, "yes", "alice", LATER + timedelta(minutes=1))
    assert state.answer("P1.2").review is None and waiting(CHECKLIST, state, TODAY) == [CHECKLIST.item("P1.2")]


def test_a_request_for_changes_tells_the_assignee_when_there_is_one(answered):
    state, _ = say(answered, "assign dave", "alice")
    _, messages = say(state, "需修改 证明材料过期", "bob")
    assert messages[-1].params["tell"] == "dave" and messages[-1].params["review"].reason == "证明材料过期"


def test_the_terminal_words_name_their_item_and_speak_chinese(answered):
    assert parse_command("批准 P1.2") == parse_command("approve P1.2") == parse_command("批准P1.2")
    assert parse_command("需修改 P1.2 太旧").name == "changes" and parse_command("待签核").name == "review"
    outcome = handle(CHECKLIST, replace(answered, cursor="P1.5"), "批准 P1.2", "bob", NOW)
    assert outcome.state.answer("P1.2").review.approved and outcome.state.cursor == "P1.5"
    outcome = handle(CHECKLIST, answered, "changes", "bob", NOW)
    assert [m.name for m in outcome.messages] == ["needs_argument"]


def test_the_review_list_is_oldest_first(answered):
    state, _ = say(answered, "yes", "alice", NOW - timedelta(days=1), item="P1.3")
    state, _ = say(state, "evidence https://x.example/category.pdf", "alice", NOW - timedelta(days=1), item="P1.3")
    assert [i.id for i in waiting(CHECKLIST, state, TODAY)] == ["P1.3", "P1.2"]
    outcome = handle(CHECKLIST, state, "review", "bob", NOW)
    assert [item.id for item, _ in outcome.messages[0].params["items"]] == ["P1.3", "P1.2"]


def test_reviewers_and_the_requirement_are_settings():
    assert parse_value("reviewers", "Bob, carol，bob、Dave", CHECKLIST, TODAY) == ("Bob", "carol", "Dave")
    assert parse_value("reviewers", "无", CHECKLIST, TODAY) == ()
    assert parse_value("require_sign_off", "必需", CHECKLIST, TODAY) is True
    assert parse_value("require_sign_off", "optional", CHECKLIST, TODAY) is False
    with pytest.raises(SettingProblem):
        parse_value("require_sign_off", "maybe", CHECKLIST, TODAY)
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id)
    state = handle(CHECKLIST, state, "设置 审阅人 Bob,Carol", "alice", NOW).state
    state = handle(CHECKLIST, state, "set sign-off required", "alice", NOW).state
    assert state.reviewers == ("Bob", "Carol") and state.require_sign_off


def test_the_verdict_requires_sign_off_only_when_the_application_says_so():
    state = replace(ready_state(), reviewers=("bob",))
    judged = readiness(CHECKLIST, state, CASE_STUDIES, DOCUMENTS, TODAY)
    assert judged.ready and judged.unreviewed and not judged.sign_off_required  # listed apart
    required = replace(state, require_sign_off=True)
    judged = readiness(CHECKLIST, required, CASE_STUDIES, DOCUMENTS, TODAY)
    assert not judged.ready and judged.gap_count == len(judged.unreviewed)
    approved = {item.id: replace(required.answer(item.id), evidence=tuple(
        replace(e, added_by="alice") for e in required.answer(item.id).evidence)) for item in judged.unreviewed}
    signed = replace(required, answers={**required.answers, **approved})
    for item in judged.unreviewed:
        signed = on_item(CHECKLIST, stored(signed), item.id, "approve", "bob", NOW).state
    judged = readiness(CHECKLIST, signed, CASE_STUDIES, DOCUMENTS, TODAY)
    assert judged.ready and judged.unreviewed == ()
    assert all(p.signed_off == p.met for p in judged.sign_offs)
    # Without reviewers sign-off is off, whatever the setting.
    assert readiness(CHECKLIST, replace(required, reviewers=()), CASE_STUDIES, DOCUMENTS, TODAY).ready


def test_the_items_not_signed_off_are_judged_on_the_audit_day():
    """Met today but lapsed by the audit: a blocking gap, not an item waiting for sign-off."""
    state = replace(ready_state(), reviewers=("bob",))
    lapsing = Evidence("https://x.example/drill", TODAY, TODAY + timedelta(days=3), id=7)
    state = replace(state, answers={**state.answers, "T1.24": replace(state.answer("T1.24"), evidence=(lapsing,))})
    judged = readiness(CHECKLIST, state, CASE_STUDIES, DOCUMENTS, TODAY)
    assert "T1.24" in {gap.item.id for gap in judged.item_gaps}
    assert "T1.24" not in {item.id for item in judged.unreviewed} and "T1.23" in {i.id for i in judged.unreviewed}


def test_the_reason_a_form_gives_is_one_line_required_and_bounded():
    assert changes_reason("  Needs the\n2026 report  ") == ("Needs the 2026 report", None)
    assert changes_reason(" \n ") == ("", REQUIRED)
    assert changes_reason("x" * (MAX_TEXT + 1))[1] == TOO_LONG
    assert changes_reason("x" * MAX_TEXT)[1] is None
