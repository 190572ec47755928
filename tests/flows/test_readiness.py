"""Readiness (flows.readiness) and the digest's pure parts (flows.digest): no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from flows.application import MET, NOT_APPLICABLE, NOT_MET, SKIPPED, Answer, ApplicationState, Evidence
from flows.case_studies import MISSING_OVERALL_DIAGRAM, CaseStudy, SolutionDocuments
from flows.checklist import get_checklist
from flows.digest import (
    ApplicationInput,
    Changes,
    DigestChannel,
    Schedule,
    ScheduleProblem,
    build_digest,
    digest_key,
    latest_slot,
    parse_schedule,
)
from flows.progress import part_progress
from flows.readiness import readiness

CHECKLIST = get_checklist()
TODAY = date(2026, 11, 28)
AUDIT = date(2027, 3, 1)


def met(item_id: str, expires_on: date | None = None) -> Answer:
    evidence = Evidence("https://wiki.example.com/" + item_id, expires_on and TODAY, expires_on)
    return Answer(status=MET, evidence=(evidence,))


def ready_state(target: date | None = AUDIT) -> ApplicationState:
    """Every SaaS item met with evidence that lasts a year; the two conditional items with
    short or annual windows (key rotation, PCI) not applicable."""
    answers = {}
    for item in CHECKLIST.applicable_items("saas"):
        if item.id in ("T1.11", "T1.25"):
            answers[item.id] = Answer(status=NOT_APPLICABLE)
        else:
            answers[item.id] = met(item.id, item.expiry(TODAY))
    return ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id,
                            target_audit_date=target, answers=answers, id=1)


CASE_STUDIES = tuple(
    CaseStudy(customer_name=f"Customer {n}", customer_website="https://c.example.com", challenge="c",
              deployment="d", third_party="none", production_date=TODAY - timedelta(days=30), in_production=True,
              outcomes="o", category="stores", public=n < 2, public_url="https://c.example.com/story" if n < 2 else "",
              diagram="https://c.example.com/diagram")
    for n in range(4)
)
DOCUMENTS = SolutionDocuments(overall_diagram="https://example.com/solution")


def judge(state: ApplicationState, case_studies=CASE_STUDIES, documents=DOCUMENTS, today=TODAY):
    return readiness(CHECKLIST, state, case_studies, documents, today)


def test_everything_met_through_the_audit_day_is_ready():
    result = judge(ready_state())
    assert result.ready and result.audit_day == AUDIT
    assert result.item_gaps == () and result.case_study_gaps == ()
    assert list(result.parts) == part_progress(CHECKLIST, ready_state(), TODAY)


@pytest.mark.parametrize("days_from_audit, ready", [(-1, False), (0, True), (1, True)])
def test_a_drill_expiring_around_the_audit_day(days_from_audit, ready):
    expires_on = AUDIT + timedelta(days=days_from_audit)
    state = ready_state().with_answer("T1.24", met("T1.24", expires_on))
    result = judge(state)
    assert judge(replace(state, target_audit_date=None)).ready  # ready today either way
    assert result.ready is ready
    if not ready:
        [gap] = result.item_gaps
        assert (gap.item.id, gap.status, gap.lapses_on) == ("T1.24", "expired", expires_on)


@pytest.mark.parametrize("days_from_today, ready", [(-1, False), (0, True), (1, True)])
def test_without_a_target_date_the_verdict_is_for_today(days_from_today, ready):
    state = ready_state(target=None).with_answer("T1.24", met("T1.24", TODAY + timedelta(days=days_from_today)))
    result = judge(state)
    assert result.audit_day == TODAY and result.ready is ready
    if not ready:
        assert result.item_gaps[0].status == "expired" and result.item_gaps[0].lapses_on is None


def test_a_target_date_already_past_judges_today():
    assert judge(ready_state(target=TODAY - timedelta(days=3))).audit_day == TODAY


def test_every_open_item_and_failing_case_study_rule_blocks():
    state = (ready_state().with_answer("P1.1", Answer(status=NOT_MET)).with_answer("P1.2", Answer(status=SKIPPED))
             .with_answer("P1.3", Answer()))
    result = judge(state, documents=SolutionDocuments())
    assert [(g.item.id, g.status) for g in result.item_gaps] == [("P1.1", NOT_MET), ("P1.2", SKIPPED), ("P1.3", None)]
    assert [g.item.id for g in result.failing] == ["P1.1"]
    assert [item.id for item in result.skipped] == ["P1.2"] and [item.id for item in result.unanswered] == ["P1.3"]
    assert [f.rule for f in result.case_study_gaps] == [MISSING_OVERALL_DIAGRAM]
    assert not result.ready and result.gap_count == 4


def test_readiness_judges_each_item_as_its_status_on_each_day_says():
    """Readiness writes out the ageing of evidence (for the digest's speed): it must judge
    every kind of answer as ``effective_status`` does, today for the parts' counts and on
    the audit day for the gaps."""
    from flows.application import EXPIRED, effective_status

    items = CHECKLIST.applicable_items("saas")
    kinds = [met(items[0].id), met(items[1].id, TODAY - timedelta(days=1)),  # undated; expired already
             met(items[2].id, AUDIT - timedelta(days=10)), met(items[3].id, AUDIT),  # lapses before; lasts
             Answer(status=NOT_MET), Answer(status=SKIPPED), Answer(status=NOT_APPLICABLE), Answer()]
    answers = {item.id: answer for item, answer in zip(items[:len(kinds)], kinds, strict=True)}
    state = replace(ready_state(), answers=answers)
    other = next(item for item in CHECKLIST.items if not item.applies("saas"))
    state = state.with_answer(other.id, Answer(status=NOT_MET))  # not the walk's: never a gap
    result = judge(state)

    assert list(result.parts) == part_progress(CHECKLIST, state, TODAY)
    expected = []
    for item in items:
        answer = state.answers.get(item.id)
        on_audit = None if answer is None else effective_status(answer, AUDIT)
        if on_audit in (MET, NOT_APPLICABLE):
            continue
        lapses = on_audit == EXPIRED and effective_status(answer, TODAY) == MET
        expected.append((item.id, on_audit, answer.expires_on if lapses else None))
    assert [(g.item.id, g.status, g.lapses_on) for g in result.item_gaps] == expected
    assert (items[2].id, EXPIRED, AUDIT - timedelta(days=10)) in expected  # the cases are all there
    assert (items[1].id, EXPIRED, None) in expected and (items[5].id, SKIPPED, None) in expected


def test_a_case_study_too_old_by_the_audit_blocks():
    old = replace(CASE_STUDIES[0], production_date=AUDIT - timedelta(days=600))
    result = judge(ready_state(), case_studies=(old,) + CASE_STUDIES[1:])
    assert {f.rule for f in result.case_study_gaps} == {"too_old_by_audit", "too_few_by_audit"}


@pytest.mark.parametrize("days, soon, listed", [(30, True, True), (31, False, True), (90, False, True),
                                                (91, False, False)])
def test_evidence_expiring_within_30_and_90_days(days, soon, listed):
    state = ready_state(target=None).with_answer("T2.9", met("T2.9", TODAY + timedelta(days=days)))
    result = judge(state)
    assert [e.item.id for e in result.expiring] == (["T2.9"] if listed else [])
    assert [e.item.id for e in result.expiring_soon] == (["T2.9"] if soon else [])


# -- flows.digest: schedule and changes --------------------------------------------


def test_schedule_words():
    assert parse_schedule("mon 09") == Schedule("mon", 9)
    assert parse_schedule("Friday 17:00") == Schedule("fri", 17)
    for bad, reason in (("09 mon", "weekday_and_hour"), ("mon", "weekday_and_hour"), ("mon 24", "hour"),
                        ("someday 9", "weekday_and_hour")):
        with pytest.raises(ScheduleProblem) as raised:
            parse_schedule(bad)
        assert (raised.value.text, raised.value.reason) == (bad, reason)


def test_the_latest_slot_is_in_the_channels_time_zone():
    shanghai = DigestChannel("CPDM", "T1", timezone="Asia/Shanghai")
    # Monday 30 November 2026, 09:00 in Shanghai is 01:00 UTC.
    before = datetime(2026, 11, 30, 0, 59, tzinfo=timezone.utc)
    at = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    assert latest_slot(before, shanghai).date() == date(2026, 11, 23)
    assert latest_slot(at, shanghai) == at
    assert digest_key(shanghai, latest_slot(at, shanghai)) == "digest:T1:CPDM:2026-11-30T09:00+08:00"
    friday = DigestChannel("CPDM", schedule=Schedule("fri", 17))
    assert latest_slot(at, friday) == datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc)


def test_status_changes_changed_back_drop_out():
    now = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    changes = Changes(statuses=(("P1.1", None, MET), ("P1.2", MET, MET), ("X9.9", None, MET)), evidence=1)
    digest = build_digest(DigestChannel("CPDM"), [ApplicationInput(ready_state(), changes=changes)], now, None,
                          {(CHECKLIST.id, ""): CHECKLIST})
    [application] = digest.applications
    assert [(c.item.id, c.old, c.new) for c in application.status_changes] == [("P1.1", None, MET)]
    assert application.evidence_added == 1 and not application.created
    assert digest.first and digest.since == now - timedelta(days=7)
