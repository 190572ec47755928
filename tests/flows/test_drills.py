"""The rules of drill plans (flows/drills.py) and their invite (flows/invite.py), parsed
back with icalendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar

from flows.application import MET, Answer, ApplicationState, Evidence
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from flows.drills import (
    PAST_DATE,
    PAST_TIME,
    UNREADABLE_DATE,
    UNREADABLE_TIME,
    DrillPlan,
    PlanProblem,
    drills_before_audit,
    needs_asking,
    parse_when,
    plan_form_problems,
    plannable,
)
from flows.invite import drill_invite, invite_filename

CHECKLIST = get_checklist(DEFAULT_CHECKLIST)
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)  # 18:00 in Shanghai


def test_the_drills_and_dated_assessments_are_plannable_and_nothing_else():
    planned = {item.id for item in CHECKLIST.items if plannable(item)}
    assert {"T1.24", "T1.25", "T2.9", "T2.13", "P3.2"} <= planned
    assert "T1.1" not in planned and not plannable(None)
    assert not any(CHECKLIST.item(i).derived_from for i in planned)  # case studies are edited, not planned


def test_a_plan_is_a_day_and_maybe_a_time_not_in_the_past():
    assert parse_when("2027-01-12 10:00", NOW, "Asia/Shanghai") == (date(2027, 1, 12), time(10, 0))
    assert parse_when("2027年1月12日", NOW, "Asia/Shanghai") == (date(2027, 1, 12), None)
    assert parse_when("", NOW, "UTC").reason == "missing_date"
    assert parse_when("someday", NOW, "UTC") == PlanProblem(UNREADABLE_DATE, "someday")
    assert parse_when("2026-11-27", NOW, "UTC") == PlanProblem(PAST_DATE, "2026-11-27")
    assert parse_when("2027-01-12 25:00", NOW, "UTC") == PlanProblem(UNREADABLE_TIME, "25:00")
    # Today is a calendar day of the planner's zone: 18:00 in Shanghai, so 17:00 has passed…
    assert parse_when("2026-11-28 17:00", NOW, "Asia/Shanghai") == PlanProblem(PAST_TIME, "17:00")
    assert parse_when("2026-11-28 19:00", NOW, "Asia/Shanghai") == (date(2026, 11, 28), time(19, 0))
    # …and in Los Angeles it is still the 28th at 02:00, while at UTC+14 (Kiritimati) it is the 29th.
    assert parse_when("2026-11-28", NOW, "America/Los_Angeles") == (date(2026, 11, 28), None)
    assert parse_when("2026-11-28", NOW, "Pacific/Kiritimati").reason == PAST_DATE


def test_the_form_names_the_field_at_fault():
    drill = CHECKLIST.item("T1.24")
    assert plan_form_problems(drill, "2027-01-12", "", ["UBOB"], NOW, "UTC") == {}
    assert plan_form_problems(drill, "2020-01-01", "09:00", [], NOW, "UTC") == {"day": PAST_DATE}
    assert plan_form_problems(drill, "2026-11-28", "09:00", [], NOW, "UTC") == {"time": PAST_TIME}
    assert plan_form_problems(drill, "2027-01-12", "", [f"U{n}" for n in range(31)], NOW, "UTC") == {
        "attendees": "too_many_attendees"}
    assert plan_form_problems(CHECKLIST.item("T1.1"), "2027-01-12", "", [], NOW, "UTC") == {"day": "not_plannable"}


def with_drill(evidence_date: date) -> ApplicationState:
    item = CHECKLIST.item("T1.24")
    evidence = Evidence("https://wiki/drill", evidence_date, item.expiry(evidence_date))
    return ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id,
                            target_audit_date=date(2027, 3, 1), answers={"T1.24": Answer(MET, evidence=(evidence,))})


def test_drills_expiring_before_the_audit_are_listed_planned_or_not():
    state = with_drill(date(2026, 1, 20))  # lasts until 2027-01-20, the audit is on 2027-03-01
    [line] = drills_before_audit(CHECKLIST, state, date(2026, 11, 28), {})
    assert (line.item.id, line.expires_on, line.plan) == ("T1.24", date(2027, 1, 20), None)
    plan = DrillPlan("T1.24", date(2027, 1, 10), time(10, 0), "Asia/Shanghai")
    [line] = drills_before_audit(CHECKLIST, state, date(2026, 11, 28), {"T1.24": plan})
    assert line.plan == plan
    assert drills_before_audit(CHECKLIST, with_drill(date(2026, 6, 1)), date(2026, 11, 28), {"T1.24": plan}) == []


def test_the_question_comes_the_day_after_at_nine_unless_evidence_answered_it():
    plan = DrillPlan("T1.24", date(2027, 1, 10), time(14, 0), "Asia/Shanghai")
    answer = with_drill(date(2026, 1, 20)).answer("T1.24")
    nine = datetime(2027, 1, 11, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert not needs_asking(plan, answer, nine - timedelta(minutes=1))
    assert needs_asking(plan, answer, nine)
    assert not needs_asking(plan, with_drill(date(2027, 1, 10)).answer("T1.24"), nine)  # the drill's evidence


def parsed(ics: bytes):
    calendar = Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_a_timed_invite_is_in_its_zone_with_an_alarm_a_day_before():
    item = CHECKLIST.item("T2.13")
    plan = DrillPlan("T2.13", date(2027, 1, 12), time(10, 30), "Asia/Shanghai", id=7)
    calendar, event = parsed(drill_invite(plan, item, "en", "the requirement", "drill-1-7@x", NOW))
    assert event.decoded("dtstart") == datetime(2027, 1, 12, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(event["summary"]) == f"T2.13 {item.title('en')}"
    assert str(event["description"]) == "the requirement" and str(event["uid"]) == "drill-1-7@x"
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1) and str(alarm["action"]) == "DISPLAY"


def test_a_utc_invite_has_no_vtimezone_and_a_whole_day_one_is_a_date():
    item = CHECKLIST.item("T1.24")
    calendar, event = parsed(drill_invite(DrillPlan("T1.24", date(2027, 1, 12), time(8, 0), "UTC"), item, "zh",
                                          "要求", "u@x", NOW))
    assert event.decoded("dtstart") == datetime(2027, 1, 12, 8, 0, tzinfo=timezone.utc)
    assert b"DTSTART:20270112T080000Z" in calendar.to_ical() and calendar.walk("VTIMEZONE") == []
    assert str(event["summary"]) == f"T1.24 {item.title('zh')}" and "安全" in str(event["summary"])
    _, event = parsed(drill_invite(DrillPlan("T1.24", date(2027, 1, 12), None, "UTC"), item, "en", "x", "u@x", NOW))
    assert event.decoded("dtstart") == date(2027, 1, 12) and event.decoded("dtend") == date(2027, 1, 13)


def test_the_file_name_is_one_plain_name():
    plan = DrillPlan("T1.24", date(2027, 1, 12), None, "UTC")
    assert invite_filename("../Acme Retail", CHECKLIST.item("T1.24"), plan) == "drill-Acme-Retail-T1.24-2027-01-12.ics"
