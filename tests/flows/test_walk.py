"""The conversation engine's transitions, without any database or adapter."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from flows.application import EXPIRED, MET, NOT_APPLICABLE, NOT_MET, SKIPPED, ApplicationState, Pending
from flows.checklist import get_checklist
from flows.walk import handle, resume

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
CHECKLIST = get_checklist()


def new_state(delivery: str = "saas", **changes) -> ApplicationState:
    return ApplicationState(partner="Acme", delivery_type=delivery, checklist_id=CHECKLIST.id, language="en", **changes)


def run(state: ApplicationState, *lines: str, now: datetime = NOW):
    messages = []
    for line in lines:
        outcome = handle(CHECKLIST, state, line, "alice", now)
        state = outcome.state
        messages.extend(m.name for m in outcome.messages)
    return state, messages


def test_resume_of_a_new_application_shows_the_first_item():
    outcome = resume(CHECKLIST, new_state(), "alice", NOW)
    assert [m.name for m in outcome.messages] == ["welcome", "item"]
    assert outcome.state.cursor == "P1.1"


def test_yes_without_evidence_need_moves_on():
    state, said = run(new_state(cursor="P1.1"), "yes")
    assert state.answer("P1.1").status == MET and state.answer("P1.1").answered_by == "alice"
    assert state.cursor == "P1.2" and said == ["saved", "item"]


def test_yes_asks_for_evidence_then_moves_on():
    state, said = run(new_state(cursor="P1.2"), "是")
    assert state.pending == Pending("P1.2", "evidence") and said == ["saved", "ask_evidence"]
    state, said = run(state, "https://partners.example.com/tier")
    assert state.answer("P1.2").evidence[0].text == "https://partners.example.com/tier"
    assert state.pending is None and state.cursor == "P1.3"


def test_dated_item_asks_for_date_and_computes_expiry():
    state, _ = run(new_state(cursor="T1.24"), "y", "https://wiki.example.com/drill-2026", "2026-03-01")
    answer = state.answer("T1.24")
    assert answer.status == MET
    assert answer.evidence[0].evidence_date == date(2026, 3, 1)
    assert answer.expires_on == date(2027, 3, 1)
    assert state.cursor == "T1.25"


def test_bad_and_future_dates_are_asked_again():
    state, _ = run(new_state(cursor="T1.24"), "y", "drill report")
    state, said = run(state, "last tuesday-ish")
    assert said == ["bad_date", "ask_date"] and state.pending == Pending("T1.24", "date")
    state, said = run(state, "2027-01-01")
    assert said == ["bad_date", "ask_date"] and state.answer("T1.24").evidence[0].evidence_date is None
    state, said = run(state, "2026年3月1日")
    assert state.answer("T1.24").evidence[0].evidence_date == date(2026, 3, 1)


def test_date_outside_the_window_is_saved_as_expired():
    state, said = run(new_state(cursor="T2.9"), "yes", "AZ game day notes", "2025-11-27")
    assert state.answer("T2.9").status == EXPIRED
    assert state.answer("T2.9").evidence[0].evidence_date == date(2025, 11, 27)
    assert "dated_expired" in said and state.cursor == "T2.10"


def test_exactly_twelve_months_is_still_valid_on_its_last_day():
    state, _ = run(new_state(cursor="T2.9"), "yes", "AZ game day notes", "2025-11-28")
    assert state.answer("T2.9").status == MET
    assert state.answer("T2.9").expires_on == date(2026, 11, 28)


def test_no_na_skip():
    state, _ = run(new_state(cursor="T1.25"), "na")
    assert state.answer("T1.25").status == NOT_APPLICABLE and state.cursor == "T1.26"
    state, said = run(state, "n/a")
    assert state.answer("T1.26").status == NOT_APPLICABLE
    state, said = run(new_state(cursor="T1.1"), "不适用")
    assert said == ["na_not_allowed"] and state.answer("T1.1").status is None
    state, _ = run(state, "no")
    assert state.answer("T1.1").status == NOT_MET
    state, _ = run(state, "跳过")
    assert state.answer("T1.2").status == SKIPPED and state.cursor == "T1.3"


def test_back_and_goto():
    state, _ = run(new_state(cursor="P1.3"), "back")
    assert state.cursor == "P1.2"
    state, _ = run(state, "goto t2.13")
    assert state.cursor == "T2.13"
    state, said = run(state, "goto X9")
    assert said == ["unknown_item"] and state.cursor == "T2.13"
    state, said = run(new_state(cursor="P1.1"), "back")
    assert said == ["at_start"]


def test_not_applicable_items_are_never_asked():
    customer = new_state("customer_deployed")
    state, said = run(customer, "goto T1.1")
    assert said == ["item_not_applicable"]
    asked, shown = [], []
    state = new_state("customer_deployed", cursor="P1.1")
    for _ in range(80):
        outcome = handle(CHECKLIST, state, "no", "alice", NOW)
        state = outcome.state
        asked.extend(m.params["item"].id for m in outcome.messages if m.name == "item")
        shown.extend(m.params["item"].id for m in outcome.messages if m.name == "derived")
        if state.finished:
            break
    assert state.finished
    assert not set(asked) & {"T1.1", "T1.12", "T3.1", "T2.9"}
    # Items answered from the case studies are shown on the way, never asked.
    derived = {"P2.1", "P2.2", "D1", "D2"}
    assert set(shown) == derived
    assert set(asked) == {i.id for i in CHECKLIST.applicable_items("customer_deployed")} - {"P1.1"} - derived


def test_a_cursor_on_an_item_that_no_longer_applies_moves_on():
    state, said = run(new_state("customer_deployed", cursor="T1.8"), "no")
    assert state.answer("P1.1").status == NOT_MET and state.answer("T1.8").status is None


def test_skipped_items_come_back_at_the_end():
    state = new_state(cursor="T4.1")
    state, _ = run(state, "skip", "no")
    assert state.cursor == "P1.1"  # unanswered items from the top come next


def test_notes_status_help_unknown_and_long_input():
    state, said = run(new_state(cursor="P1.4"), "note 120 customers as of Q3", "status", "help", "bananas")
    assert state.answer("P1.4").note == "120 customers as of Q3"
    assert said == ["note_saved", "status", "help", "hint"]
    state, said = run(state, "x" * 3001)
    assert said == ["too_long"]
    state, said = run(state, "note")
    assert said == ["needs_argument"]


def test_quit_keeps_everything():
    outcome = handle(CHECKLIST, new_state(cursor="P1.1"), "退出", "alice", NOW)
    assert outcome.quit and [m.name for m in outcome.messages] == ["bye"]


def test_resume_repeats_a_pending_question():
    state, _ = run(new_state(cursor="T1.24"), "yes", "drill report")
    outcome = resume(CHECKLIST, state, "bob", NOW)
    assert [m.name for m in outcome.messages] == ["welcome", "item", "ask_date"]


@pytest.mark.parametrize(
    ("evidence_date", "expected"),
    [("2024-02-29", date(2025, 2, 28)), ("2026-01-31", date(2027, 1, 31))],
)
def test_month_arithmetic_is_dateutils(evidence_date, expected):
    state, _ = run(new_state(cursor="T1.24"), "yes", "drill", evidence_date,
                   now=datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert state.answer("T1.24").expires_on == expected


def test_today_is_the_applications_calendar_day():
    # 23:30 UTC on 28 Nov is already 29 Nov in Shanghai: that date is not in the future there.
    late = datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc)
    state, said = run(new_state(cursor="T1.24", timezone="Asia/Shanghai"), "yes", "drill", "2026-11-29", now=late)
    assert state.answer("T1.24").evidence[0].evidence_date == date(2026, 11, 29)
    state, said = run(new_state(cursor="T1.24"), "yes", "drill", "2026-11-29", now=late)
    assert "bad_date" in said


def test_status_flags_evidence_that_will_not_last_until_the_audit():
    audit = date(2027, 2, 15)
    state, _ = run(new_state(cursor="T1.24", target_audit_date=audit), "yes", "drill", "2026-02-14")
    outcome = handle(CHECKLIST, state, "status", "alice", NOW)
    [status] = outcome.messages
    assert [e.item.id for e in status.params["stale"]] == ["T1.24"]  # counts until 2027-02-14
    from bot.render import render

    shown = render("walk.j2", "status", "en", **status.params)
    assert "Valid today, but expired by your audit on 15 Feb 2027:" in shown
    state, _ = run(new_state(cursor="T1.24", target_audit_date=audit), "yes", "drill", "2026-02-15")
    [status] = handle(CHECKLIST, state, "status", "alice", NOW).messages
    assert status.params["stale"] == []  # the last valid day is the audit day itself
