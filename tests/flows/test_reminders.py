"""The pure reminder schedule: lead times, grace, snooze, flips and escalations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta

from flows.application import EXPIRED, MET, NOT_MET, is_expired
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.reminders import (
    DEFAULT_LEAD_DAYS,
    Escalation,
    ExpiryFlip,
    Reminder,
    ReminderKey,
    TrackedEvidence,
    due_actions,
    lead_times,
    newest_per_answer,
    next_checks,
    snooze_until,
    stale_by_audit,
    valid_case_study_count,
)

CHECKLIST = get_checklist()
ITEMS = {item.id: item for item in CHECKLIST.items}
DRILL = ITEMS["T1.24"]  # incident-response drill, 12 months
KEY_ROTATION = ITEMS["T1.11"]  # 7 days
CASE_STUDY = ITEMS["P2.1"]  # 18 months
BERLIN = ZoneInfo("Europe/Berlin")


def tracked(item=DRILL, evidence_date=date(2025, 3, 30), **changes) -> TrackedEvidence:
    values = dict(
        application_id=1,
        item_id=item.id,
        evidence_id=10,
        evidence_date=evidence_date,
        expires_on=item.expiry(evidence_date),
        status=MET,
        assignee="U1",
        recipient_tz=None,
        app_tz="Europe/Berlin",
        target_audit_date=None,
        snoozed_until=None,
        lead_override=None,
    )
    values.update(changes)
    return TrackedEvidence(**values)


def local(day: date, hour: int = 9, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def actions_at(rows, now, already=frozenset(), grace=timedelta(days=3)):
    return due_actions(rows if isinstance(rows, list) else [rows], ITEMS, now, set(already), grace)


def test_the_applications_lead_days_win_over_the_checklists():
    expires = DRILL.expiry(date(2025, 3, 30))
    at_45_days = local(expires - timedelta(days=45), 9, 5)
    checklist_leads = (45, 0)
    plain, own = tracked(), tracked(application_id=2, evidence_id=11, lead_override=(20,))
    due = reminders(due_actions([plain, own], ITEMS, at_45_days, set(), timedelta(days=3), checklist_leads))
    assert [(r.application_id, r.lead_days) for r in due] == [(1, 45)]
    assert reminders(actions_at([plain, own], at_45_days)) == []  # the defaults have no 45-day lead


def reminders(actions) -> list[Reminder]:
    return [a for a in actions if isinstance(a, Reminder)]


class Scheduler:
    """Plays the storage layer: records keys, flips the stored status."""

    def __init__(self, row: TrackedEvidence, grace: timedelta = timedelta(days=3)) -> None:
        self.row = row
        self.grace = grace
        self.already: set[ReminderKey] = set()
        self.log: list[tuple[datetime, object]] = []

    def tick(self, now: datetime) -> list:
        actions = due_actions([self.row], ITEMS, now, self.already, self.grace)
        for action in actions:
            assert action.key not in self.already
            self.already.add(action.key)
            if isinstance(action, Reminder):
                self.already.update(action.skipped_keys)
            if isinstance(action, ExpiryFlip):
                self.row = replace(self.row, status=EXPIRED)
            self.log.append((now, action))
        return actions

    def of(self, kind) -> list[tuple[datetime, object]]:
        return [(at, a) for at, a in self.log if isinstance(a, kind)]


# --- month arithmetic and calendar days -------------------------------------------


def test_29_february_plus_12_months_is_28_february():
    expires = DRILL.expiry(date(2024, 2, 29))
    assert expires == date(2025, 2, 28)
    row = tracked(evidence_date=date(2024, 2, 29), expires_on=expires)
    [on_the_day] = reminders(actions_at(row, local(date(2025, 2, 28)), already={ReminderKey(10, 1)}))
    assert (on_the_day.lead_days, on_the_day.days_left) == (0, 0)
    recorded = {ReminderKey(10, 0), ReminderKey(10, 1)}
    assert not actions_at(row, local(date(2025, 2, 28), 23, 59), already=recorded)
    assert not actions_at(row, local(date(2025, 3, 1), 8, 59), already={ReminderKey(10, 0)})
    [flip] = actions_at(row, local(date(2025, 3, 1), 9, 0), already={ReminderKey(10, 0)})
    assert isinstance(flip, ExpiryFlip)


def test_31_january_plus_one_month_is_end_of_february():
    monthly = replace(DRILL, max_age={"months": 1})
    assert monthly.expiry(date(2025, 1, 31)) == date(2025, 2, 28)
    assert monthly.expiry(date(2024, 1, 31)) == date(2024, 2, 29)
    assert lead_times(monthly) == DEFAULT_LEAD_DAYS  # a month is not a short window


def test_evidence_dates_are_calendar_days_of_the_application_zone():
    typed_at = datetime(2025, 1, 31, 17, 30, tzinfo=timezone.utc)  # 01:30 on 1 Feb in Shanghai
    day = local_today(typed_at, "Asia/Shanghai")
    assert day == date(2025, 2, 1)
    assert DRILL.expiry(day) == date(2026, 2, 1)
    assert DRILL.expiry(local_today(typed_at, "UTC")) == date(2026, 1, 31)


# --- lead times ---------------------------------------------------------------------


def test_lead_times_defaults_and_overrides():
    assert lead_times(DRILL) == (60, 30, 14, 7, 1, 0)
    assert lead_times(DRILL, (7, 90, 7, 0)) == (90, 7, 0)
    assert lead_times(DRILL, ()) == ()
    assert lead_times(KEY_ROTATION) == (1, 0)
    assert lead_times(KEY_ROTATION, (60, 30, 1)) == (1, 0)
    assert lead_times(KEY_ROTATION, (7, 1)) == (1, 0)  # 7 is not shorter than the window
    assert lead_times(KEY_ROTATION, (3, 1, 0)) == (3, 1, 0)
    assert lead_times(ITEMS["P1.1"]) == ()  # no window, no reminders
    with pytest.raises(ValueError):
        lead_times(DRILL, (30, -1))


def test_weekly_key_rotation_gets_only_one_and_zero():
    row = tracked(item=KEY_ROTATION, evidence_date=date(2025, 6, 2))
    assert row.expires_on == date(2025, 6, 9)
    scheduler = Scheduler(row)
    now = local(date(2025, 6, 2), 0)
    while now < local(date(2025, 6, 20), 0):
        scheduler.tick(now)
        now += timedelta(hours=1)
    sent = [(at.astimezone(BERLIN), r.lead_days) for at, r in scheduler.of(Reminder)]
    assert sent == [(local(date(2025, 6, 8)), 1), (local(date(2025, 6, 9)), 0)]


# --- a year of hourly scheduler passes ---------------------------------------------


def test_a_year_hour_by_hour_sends_every_lead_time_once_at_nine_local():
    row = tracked()  # dated on the day Berlin moves to summer time
    assert row.expires_on == date(2026, 3, 30)
    scheduler = Scheduler(row)
    now = datetime(2025, 3, 29, 23, 0, tzinfo=timezone.utc)
    while now < datetime(2026, 4, 15, tzinfo=timezone.utc):
        scheduler.tick(now)
        now += timedelta(hours=1)

    sent = scheduler.of(Reminder)
    assert [r.lead_days for _, r in sent] == [60, 30, 14, 7, 1, 0]
    for at, reminder in sent:
        moment = at.astimezone(BERLIN)
        assert moment.date() == reminder.expires_on - timedelta(days=reminder.lead_days)
        assert moment.time() == time(9, 0)
        assert reminder.days_left == reminder.lead_days
        assert reminder.skipped_keys == ()
        assert reminder.recipient == "U1"

    [(flip_at, _)] = scheduler.of(ExpiryFlip)
    assert flip_at.astimezone(BERLIN) == local(date(2026, 3, 31), 9)
    [(escalated_at, escalation)] = scheduler.of(Escalation)
    assert escalated_at.astimezone(BERLIN) == local(date(2026, 4, 7))
    assert escalation.days_expired == 8
    assert escalation.key == ReminderKey(10, -8)


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"])
def test_daily_at_8_59_and_9_00_local_nothing_goes_out_before_nine(zone_name):
    zone = ZoneInfo(zone_name)
    row = tracked(app_tz=zone_name)
    scheduler = Scheduler(row)
    day = date(2025, 3, 30)
    while day <= date(2026, 3, 30):
        before = scheduler.tick(local(day, 8, 59, zone))
        assert not reminders(before)
        at_nine = reminders(scheduler.tick(local(day, 9, 0, zone)))
        expected = [row.expires_on - day] if (row.expires_on - day).days in DEFAULT_LEAD_DAYS else []
        assert [timedelta(days=r.lead_days) for r in at_nine] == expected
        day += timedelta(days=1)
    assert sorted(k.lead_days for k in scheduler.already) == sorted(DEFAULT_LEAD_DAYS)


# --- a scheduler that was down -----------------------------------------------------


def test_a_clock_down_for_two_hours_catches_up():
    row = tracked()
    already = {ReminderKey(10, 60)}
    assert not actions_at(row, local(date(2026, 2, 28), 8, 59), already)
    [late] = reminders(actions_at(row, local(date(2026, 2, 28), 11, 0), already))
    assert (late.lead_days, late.days_left, late.skipped_keys) == (30, 30, ())
    assert late.due_at == local(date(2026, 2, 28))


def test_a_clock_down_40_days_sends_only_the_latest_missed_lead_time():
    row = tracked()
    # Last pass 2026-01-20 (before the 60-day reminder); back on 2026-03-23 at 10:00.
    [reminder] = reminders(actions_at(row, local(date(2026, 3, 23), 10)))
    assert reminder.lead_days == 7
    assert reminder.skipped_keys == (ReminderKey(10, 60), ReminderKey(10, 30), ReminderKey(10, 14))
    # Recording it all leaves nothing due until the one-day reminder.
    already = {reminder.key, *reminder.skipped_keys}
    assert not actions_at(row, local(date(2026, 3, 28), 23), already)
    [next_one] = reminders(actions_at(row, local(date(2026, 3, 29), 9), already))
    assert next_one.lead_days == 1


def test_missed_lead_times_older_than_the_grace_are_not_sent():
    row = tracked()
    assert not actions_at(row, local(date(2026, 3, 5), 10))  # 30-day reminder was 5 days ago
    [reminder] = reminders(actions_at(row, local(date(2026, 3, 16), 9)))
    assert reminder.lead_days == 14
    assert reminder.skipped_keys == (ReminderKey(10, 60), ReminderKey(10, 30))


def test_keys_already_recorded_are_never_returned():
    row = tracked()
    every_key = {ReminderKey(10, lead) for lead in (*DEFAULT_LEAD_DAYS, -1, -8)}
    for day in range(0, 420, 3):
        now = local(date(2025, 3, 30) + timedelta(days=day), 12)
        assert not actions_at(row, now, every_key)


# --- snooze -------------------------------------------------------------------------


def test_snooze_until_is_nine_local_and_never_past_expiry():
    now = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)  # 00:30 on 2 March in Berlin
    assert snooze_until(now, "day", date(2026, 3, 30), "Europe/Berlin") == local(date(2026, 3, 3))
    assert snooze_until(now, "week", date(2026, 3, 30), "Europe/Berlin") == local(date(2026, 3, 9))
    assert snooze_until(now, "week", date(2026, 3, 5), "Europe/Berlin") == local(date(2026, 3, 5))
    assert snooze_until(now, "day", date(2026, 3, 2), "Europe/Berlin") == local(date(2026, 3, 2))
    with pytest.raises(ValueError):
        snooze_until(now, "month", date(2026, 3, 30), "Europe/Berlin")


def test_snooze_delays_the_reminder_and_fires_the_latest_once_at_its_end():
    row = tracked(snoozed_until=local(date(2026, 3, 24)))  # snoozed over the 14- and 7-day reminders
    scheduler = Scheduler(row)
    scheduler.already = {ReminderKey(10, 60), ReminderKey(10, 30)}
    now = local(date(2026, 3, 1), 0)
    while now < local(date(2026, 3, 31), 0):
        scheduler.tick(now)
        now += timedelta(hours=1)
    sent = [(at.astimezone(BERLIN), r) for at, r in scheduler.of(Reminder)]
    assert [(at, r.lead_days) for at, r in sent] == [
        (local(date(2026, 3, 24)), 7),
        (local(date(2026, 3, 29)), 1),
        (local(date(2026, 3, 30)), 0),
    ]
    assert sent[0][1].skipped_keys == (ReminderKey(10, 14),)
    assert sent[0][1].days_left == 6


def test_a_snooze_past_expiry_ends_at_nine_on_the_expiry_day():
    row = tracked(snoozed_until=local(date(2026, 5, 1)))
    already = {ReminderKey(10, lead) for lead in (60, 30, 14)}
    assert not reminders(actions_at(row, local(date(2026, 3, 29), 20), already))
    [reminder] = reminders(actions_at(row, local(date(2026, 3, 30), 9), already))
    assert reminder.lead_days == 0
    assert reminder.skipped_keys == (ReminderKey(10, 7), ReminderKey(10, 1))


def test_a_snooze_does_not_delay_the_flip():
    row = tracked(snoozed_until=local(date(2026, 5, 1)))
    [flip] = actions_at(row, local(date(2026, 3, 31), 9))
    assert isinstance(flip, ExpiryFlip)


# --- newer evidence, status ---------------------------------------------------------


def test_newer_evidence_cancels_the_old_evidences_reminders():
    old = tracked(evidence_id=10)
    new = tracked(evidence_id=11, evidence_date=date(2026, 2, 20))
    assert newest_per_answer([new, old]) == [new]
    # The old drill's 30-day reminder would be due; the new drill's is a year off.
    assert not actions_at([old, new], local(date(2026, 2, 28), 10))
    assert not actions_at([old, new], local(date(2026, 3, 31), 10))  # no flip of the old one
    [only_old] = reminders(actions_at([old], local(date(2026, 2, 28), 10), {ReminderKey(10, 60)}))
    assert only_old.evidence_id == 10  # the same pass without the new evidence would remind


def test_other_items_and_applications_are_independent():
    rows = [tracked(), tracked(application_id=2, evidence_id=20), tracked(item=ITEMS["T2.9"], evidence_id=30)]
    due = reminders(actions_at(rows, local(date(2026, 1, 29), 9)))
    assert sorted(r.evidence_id for r in due) == [10, 20, 30]


def test_only_met_answers_get_reminders():
    assert not actions_at(tracked(status=NOT_MET), local(date(2026, 1, 29), 9))
    assert not actions_at(tracked(status=EXPIRED), local(date(2026, 1, 29), 9))
    assert not actions_at(tracked(status=NOT_MET), local(date(2026, 4, 10), 9))


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        actions_at(tracked(), datetime(2026, 1, 29, 9))


# --- expiry flip and escalation -----------------------------------------------------


def test_the_flip_happens_once_on_the_day_after_expiry():
    row = tracked()
    already = {ReminderKey(10, lead) for lead in DEFAULT_LEAD_DAYS}
    assert not actions_at(row, local(date(2026, 3, 30), 23, 59), already)
    assert not is_expired(row.expires_on, date(2026, 3, 30))
    assert not actions_at(row, local(date(2026, 3, 31), 8, 59), already)  # never at night
    [flip] = actions_at(row, local(date(2026, 3, 31), 9), already)
    assert flip == ExpiryFlip(1, "T1.24", 10, date(2026, 3, 30))
    assert flip.key == ReminderKey(10, -1)
    assert not actions_at(row, local(date(2026, 3, 31), 12), already | {flip.key})


def test_escalation_once_seven_days_after_the_flip():
    row = tracked(status=EXPIRED)
    assert not actions_at(row, local(date(2026, 4, 6), 23))
    assert not actions_at(row, local(date(2026, 4, 7), 8, 59))
    [escalation] = actions_at(row, local(date(2026, 4, 7)))
    assert isinstance(escalation, Escalation)
    assert escalation.key == ReminderKey(10, -8)
    assert not actions_at(row, local(date(2026, 5, 7)), {escalation.key})


def test_a_long_outage_flips_and_escalates_in_one_pass():
    actions = actions_at(tracked(), local(date(2026, 6, 1), 10))
    assert [type(a) for a in actions] == [ExpiryFlip, Escalation]
    assert actions[1].days_expired == 63


# --- time zones ---------------------------------------------------------------------


def test_the_recipients_zone_decides_nine_oclock():
    la, shanghai = ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Shanghai")
    row = tracked(app_tz="Asia/Shanghai", recipient_tz="America/Los_Angeles")
    already = {ReminderKey(10, lead) for lead in (60, 30, 14)}
    # The evidence counts until midnight after 30 March in Shanghai, 09:00 on 30 March in
    # Los Angeles: the last day Los Angeles gets a reminder at nine is the 29th, and the
    # lead days count back from it.
    seven_days_before = date(2026, 3, 22)
    assert not actions_at(row, local(seven_days_before, 8, 59, la), already)
    assert not actions_at(row, local(seven_days_before, 9, 0, shanghai), already)
    [reminder] = reminders(actions_at(row, local(seven_days_before, 9, 0, la), already))
    assert reminder.lead_days == 7
    assert reminder.due_at == local(seven_days_before, 9, 0, la)
    assert reminder.days_left == 7  # it is midnight of the 23rd in Shanghai, where expiry is decided


def test_the_app_zone_is_used_without_or_with_an_unknown_recipient_zone():
    already = {ReminderKey(10, 60)}
    for recipient_tz in (None, "", "Mars/Olympus_Mons"):
        row = tracked(app_tz="Asia/Shanghai", recipient_tz=recipient_tz, assignee="")
        shanghai = ZoneInfo("Asia/Shanghai")
        assert not actions_at(row, local(date(2026, 2, 28), 8, 59, shanghai), already)
        [reminder] = reminders(actions_at(row, local(date(2026, 2, 28), 9, 0, shanghai), already))
        assert reminder.recipient == ""


def test_reminders_stop_once_the_application_calendar_says_expired():
    # 09:00 in Los Angeles on the expiry day is already the next day in Shanghai.
    la = ZoneInfo("America/Los_Angeles")
    row = tracked(app_tz="Asia/Shanghai", recipient_tz="America/Los_Angeles")
    already = {ReminderKey(10, lead) for lead in (60, 30, 14, 7, 1)}
    assert not reminders(actions_at(row, local(row.expires_on, 9, 0, la), already))
    [flip] = actions_at(row, local(row.expires_on + timedelta(days=1), 9, 0, ZoneInfo("Asia/Shanghai")), already)
    assert isinstance(flip, ExpiryFlip)


# --- audit date ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "audit, stale",
    [(date(2026, 3, 29), False), (date(2026, 3, 30), False), (date(2026, 3, 31), True)],
)
def test_stale_by_audit_at_the_boundaries(audit, stale):
    # expiry (30 March) after / on / the day before the audit date
    row = tracked(target_audit_date=audit)
    [reminder] = reminders(actions_at(row, local(date(2026, 1, 29), 9)))
    assert reminder.stale_by_audit is stale
    assert reminder.lead_days == 60  # the countdown is to expiry either way
    assert stale_by_audit(row.expires_on, audit) is stale
    assert stale_by_audit(row.expires_on, None) is False


# --- case studies -------------------------------------------------------------------


def test_valid_case_study_count_at_exactly_18_months():
    months_18 = {"months": 18}
    assert CASE_STUDY.max_age == months_18
    dates = [date(2024, 8, 31), date(2024, 9, 1), date(2023, 1, 1), date(2025, 6, 1)]
    assert date(2024, 8, 31) + relativedelta(months=18) == date(2026, 2, 28)
    assert valid_case_study_count(dates, months_18, date(2026, 2, 28)) == 3
    assert valid_case_study_count(dates, months_18, date(2026, 3, 1)) == 2
    assert valid_case_study_count(dates, months_18, date(2026, 3, 2)) == 1
    assert valid_case_study_count([], months_18, date(2026, 3, 1)) == 0


def test_case_study_reminders_say_how_many_remain_valid():
    row = tracked(
        item=CASE_STUDY,
        evidence_date=date(2025, 6, 1),
        case_study_dates=(date(2024, 8, 31), date(2025, 1, 10), date(2025, 5, 1), date(2025, 6, 1)),
    )
    assert row.expires_on == date(2026, 12, 1)
    [reminder] = reminders(actions_at(row, local(date(2026, 10, 2), 9)))
    assert reminder.lead_days == 60
    assert reminder.valid_case_studies == 2
    assert reminders(actions_at(tracked(), local(date(2026, 1, 29), 9)))[0].valid_case_studies is None


# --- every lead time reaches every recipient, whatever the two zones -----------------

ZONES = ["Pacific/Kiritimati", "Asia/Shanghai", "Asia/Kathmandu", "Europe/London", "UTC",
         "America/Los_Angeles", "Pacific/Pago_Pago"]  # +14 … −11, with DST and a :45 offset
# Expiry days that put a lead time on a DST change: the US starts and ends summer time on
# 8 March and 1 November 2026, Europe on 29 March and 25 October.
EXPIRY_DAYS = [date(2026, 3, 8), date(2026, 3, 30), date(2026, 11, 1), date(2026, 10, 25)]
LEADS = (7, 1, 0)


@pytest.mark.parametrize("expires_on", EXPIRY_DAYS)
@pytest.mark.parametrize("app_tz", ZONES)
@pytest.mark.parametrize("recipient_tz", ZONES)
def test_every_lead_reaches_the_recipient_once_at_nine_theirs_while_the_evidence_counts(
        recipient_tz, app_tz, expires_on):
    row = tracked(app_tz=app_tz, recipient_tz=recipient_tz, expires_on=expires_on, lead_override=LEADS)
    stops_counting = datetime.combine(expires_on + timedelta(days=1), time(0), tzinfo=ZoneInfo(app_tz))
    recipient = ZoneInfo(recipient_tz)
    already: set[ReminderKey] = set()
    sent: dict[int, datetime] = {}
    now = datetime.combine(expires_on - timedelta(days=10), time(0), tzinfo=timezone.utc)
    while now < stops_counting + timedelta(days=2):  # a pass every 15 minutes, as the clock runs
        for action in due_actions([row], ITEMS, now, already):
            assert action.key not in already
            already.add(action.key)
            if isinstance(action, Reminder):
                assert action.lead_days not in sent and not action.skipped_leads
                sent[action.lead_days] = now
            elif isinstance(action, ExpiryFlip):
                assert action.skipped_leads == ()  # everything went out in time
                row = replace(row, status=EXPIRED)
        now += timedelta(minutes=15)
    assert sorted(sent) == sorted(LEADS)
    days = {lead: at.astimezone(recipient).date() for lead, at in sent.items()}
    for lead, at in sent.items():
        assert time(9) <= at.astimezone(recipient).time() < time(9, 15), (lead, at.astimezone(recipient))
        assert at < stops_counting, (lead, at)
        assert days[lead] == days[0] - timedelta(days=lead)


def test_lead_times_missed_until_expiry_are_recorded_as_skipped_with_the_flip():
    row = tracked(app_tz="Asia/Shanghai", recipient_tz="America/Los_Angeles", expires_on=date(2026, 3, 30),
                  lead_override=LEADS)
    already = {ReminderKey(10, 7)}  # sent; then the clock was down until after the expiry
    [flip] = actions_at(row, datetime(2026, 3, 31, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")), already)
    assert isinstance(flip, ExpiryFlip)
    assert flip.skipped_keys == (ReminderKey(10, 1), ReminderKey(10, 0))
    assert flip.skip_reason == "the evidence expired before it was sent"


# --- a pass needs to look only when the next check moment has come ---------------------

def passes(row, start, end, only_when_checked: bool, already=()):
    """Passes every 15 minutes from ``start`` to ``end``; with ``only_when_checked``, a pass
    judges the row only once :func:`next_checks`'s moment (computed at the last look) has
    come. Returns (moment, key) of every action."""
    already = set(already)
    done = []
    check = start
    now = start
    while now < end:
        if not only_when_checked or now >= check:
            for action in due_actions([row], ITEMS, now, already):
                already.add(action.key)
                done.append((now, action.key))
                if isinstance(action, ExpiryFlip):
                    row = replace(row, status=EXPIRED)
            check = next_checks([row], ITEMS, now, already).get(row.application_id, datetime.max.replace(
                tzinfo=timezone.utc))
        now += timedelta(minutes=15)
    return done


@pytest.mark.parametrize("expires_on", EXPIRY_DAYS[:2])
@pytest.mark.parametrize("app_tz", ZONES[::2])
@pytest.mark.parametrize("recipient_tz", ZONES[1::2])
def test_looking_only_at_the_check_moments_acts_exactly_as_looking_every_pass(recipient_tz, app_tz, expires_on):
    row = tracked(app_tz=app_tz, recipient_tz=recipient_tz, expires_on=expires_on, lead_override=LEADS)
    start = datetime.combine(expires_on - timedelta(days=10), time(0), tzinfo=timezone.utc)
    end = datetime.combine(expires_on + timedelta(days=10), time(0), tzinfo=timezone.utc)
    every_pass = passes(row, start, end, only_when_checked=False)
    assert len(every_pass) == len(LEADS) + 2  # every reminder, the flip, the escalation
    assert passes(row, start, end, only_when_checked=True) == every_pass


def test_check_moments_follow_snoozes_missed_lead_times_and_failed_sends():
    expires = DRILL.expiry(date(2025, 3, 30))
    snoozed = tracked(snoozed_until=local(expires - timedelta(days=20)))  # over the 30-day reminder
    start, end = local(expires - timedelta(days=70), 0), local(expires + timedelta(days=10), 0)
    assert passes(snoozed, start, end, True) == passes(snoozed, start, end, False)
    # The clock was down over the 60-day reminder: it is never sent by itself, so the
    # next moment to look is the 30-day one's.
    late = local(expires - timedelta(days=50))
    assert next_checks([tracked()], ITEMS, late, set()) == {1: local(expires - timedelta(days=30))}
    # A send that failed is not recorded: its moment has passed, so the next pass looks again.
    due = local(expires - timedelta(days=30), 9, 15)
    assert next_checks([tracked()], ITEMS, due, {ReminderKey(10, 60)}) == {1: local(expires - timedelta(days=30))}
    assert next_checks([tracked(status=NOT_MET)], ITEMS, due, set()) == {}
