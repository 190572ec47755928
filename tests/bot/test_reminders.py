"""The reminder pass against a real database and the stand-in Web API: every lead time
once, at 09:00 local, snoozes, new evidence, expiry, escalation, failures, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.config import SlackSettings
from bot.reminders import run_pass
from bot.slack.reminders import SlackNotifier
from bot.slack.web_api import client_factory
from flows.application import ApplicationState
from storage import reminders as store
from storage import walks
from storage.applications import history
from tests.support.cli import ROOT
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackAPI
from tests.support.wait import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def notifier_for(api: FakeSlackAPI, db) -> SlackNotifier:
    settings = SlackSettings.from_env("remind", {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                                 "SLACK_API_URL": api.url})
    return SlackNotifier(client_factory(settings, db))


def application_with_drill(db, partner="Acme", drill_date="2026-03-01", channel="CTEAM", assignee=""):
    created = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
    state = walks.start(db, ApplicationState(partner=partner, delivery_type="saas",
                                             checklist_id="aws-retail-competency",
                                             language="en", timezone="Asia/Shanghai", pdm_channel="CPDM",
                                             target_audit_date=date(2027, 2, 15)),
                        "alice", created, team_id=TEAM, channel_id=channel)
    for line in ("goto T1.24", "yes", "https://wiki.example.com/drill", drill_date):
        walks.step(db, state.id, line, "alice", created)
    if assignee:
        walks.assign(db, state.id, "T1.24", assignee, "alice", created)
    return state.id


def at_local(day: date, hour: int, minute: int = 0, zone=SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(timezone.utc)


def reminder_days(api: FakeSlackAPI) -> list[str]:
    return [m["text"] for m in api.sent("chat.postMessage")]


def test_every_lead_time_fires_once_at_nine_local_then_expiry_and_escalation(db, slack_api):
    application_id = application_with_drill(db)
    notifier = notifier_for(slack_api, db)
    sent_on: list[tuple[date, str]] = []
    day = date(2026, 11, 28)
    while day <= date(2027, 3, 20):
        before = len(slack_api.sent("chat.postMessage"))
        run_pass(db, notifier, at_local(day, 8, 59))  # never before 09:00
        assert len(slack_api.sent("chat.postMessage")) == before, day
        for hour in (9, 15):  # a second pass the same day sends nothing new
            run_pass(db, notifier, at_local(day, hour, 5))
        for message in slack_api.sent("chat.postMessage")[before:]:
            sent_on.append((day, message["channel"]))
        day += timedelta(days=1)
    expiry = date(2027, 3, 1)
    reminders = [d for d, channel in sent_on if channel == "CTEAM" and d <= expiry]
    assert reminders == [expiry - timedelta(days=n) for n in (60, 30, 14, 7, 1, 0)]
    assert [d for d, channel in sent_on if channel == "CTEAM" and d > expiry] == [date(2027, 3, 2)]  # the flip
    assert [d for d, channel in sent_on if channel == "CPDM"] == [date(2027, 3, 9)]  # escalated once
    texts = reminder_days(slack_api)
    assert "T1.24 Security incident response process" in texts[0]
    first_blocks = slack_api.sent("chat.postMessage")[0]["blocks"]
    shown = "\n".join(b["text"]["text"] for b in first_blocks if b["type"] == "section")
    assert "evidence expires in 60 day(s)" in shown and "Valid today, but expired by your audit on" not in shown
    actions = [e.get("action_id") for b in first_blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["walk_evidence", "reminder_plan", "reminder_snooze_day", "reminder_snooze_week",
                       "reminder_assign"]
    state = walks.load(db, application_id)
    assert state.answer("T1.24").status == "expired"
    flips = [(h.old_value, h.new_value, h.actor) for h in history(db, application_id)
             if h.item_id == "T1.24" and h.field == "status"]
    assert flips[-1] == ("met", "expired", "reminders")


def test_an_expiry_that_voids_a_sign_off_tells_the_reviewer(db, slack_api):
    application_id = application_with_drill(db)
    created = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
    walks.step(db, application_id, "set reviewers UBOB", "alice", created)
    walks.on_item(db, application_id, "T1.24", "approve", "UBOB", created)
    assert walks.load(db, application_id).answer("T1.24").review.approved
    run_pass(db, notifier_for(slack_api, db), at_local(date(2027, 3, 2), 9, 5))
    [expired] = [m["text"] for m in slack_api.sent("chat.postMessage") if "has expired" in m["text"]]
    assert "<@UBOB>, your sign-off of it is void" in expired
    assert walks.load(db, application_id).answer("T1.24").review is None


def test_audit_date_flag_and_case_of_a_drill_expiring_before_the_audit(db, slack_api):
    application_with_drill(db, drill_date="2026-01-20")  # expires 2027-01-20, audit 2027-02-15
    run_pass(db, notifier_for(slack_api, db), at_local(date(2026, 11, 21), 9, 30))
    blocks = slack_api.sent("chat.postMessage")[0]["blocks"]
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "Valid today, but expired by your audit on 15 Feb 2027." in shown


def test_reminders_go_to_the_assignee_at_nine_in_their_zone(db, slack_api):
    slack_api.timezones["UBOB"] = "America/Los_Angeles"
    application_with_drill(db, assignee="UBOB")
    notifier = notifier_for(slack_api, db)
    sixty_days = date(2026, 12, 30)  # before Los Angeles' last reminder day, 28 February (see flows/reminders)
    run_pass(db, notifier, at_local(sixty_days, 8, 50, ZoneInfo("America/Los_Angeles")))
    assert slack_api.sent("chat.postMessage") == []
    run_pass(db, notifier, at_local(sixty_days, 9, 10, ZoneInfo("America/Los_Angeles")))
    [message] = slack_api.sent("chat.postMessage")
    assert message["channel"] == "DUBOB"
    assert slack_api.sent("users.info")[0]["user"] == "UBOB"


def test_snooze_delays_and_new_evidence_cancels(db, slack_api):
    application_id = application_with_drill(db)
    notifier = notifier_for(slack_api, db)
    run_pass(db, notifier, at_local(date(2026, 12, 31), 9, 5))  # the 60-day reminder
    assert len(slack_api.sent("chat.postMessage")) == 1
    until = datetime(2027, 2, 6, 9, 0, tzinfo=SHANGHAI)
    store.snooze(db, application_id, "T1.24", until, "alice", at_local(date(2026, 12, 31), 10))
    run_pass(db, notifier, at_local(date(2027, 1, 30), 9, 5))  # 30 days: snoozed
    assert len(slack_api.sent("chat.postMessage")) == 1
    run_pass(db, notifier, at_local(date(2027, 2, 6), 9, 5))  # snooze ends: the 30-day one, once
    assert len(slack_api.sent("chat.postMessage")) == 2
    # New evidence dated 2027-02-01 expires 2028-02-01: the old evidence's reminders stop.
    walks.record_evidence(db, application_id, "T1.24", "new drill", "2027-02-01", "", "alice",
                          at_local(date(2027, 2, 7), 10))
    for day in (date(2027, 2, 15), date(2027, 2, 22), date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 2)):
        run_pass(db, notifier, at_local(day, 9, 5))
    assert len(slack_api.sent("chat.postMessage")) == 2
    assert walks.load(db, application_id).answer("T1.24").status == "met"


def test_a_pass_looks_only_at_applications_with_something_due_or_changed(db, slack_api):
    quiet = application_with_drill(db, partner="Quiet", channel="CQUIET", drill_date="2026-09-01")
    busy = application_with_drill(db, partner="Busy", channel="CBUSY")  # 60-day reminder on 2026-12-31
    notifier = notifier_for(slack_api, db)
    first = at_local(date(2026, 12, 1), 9, 5)
    assert store.pass_scope(db, first).application_ids is None  # never a pass yet: everything
    run_pass(db, notifier, first)
    assert store.pass_scope(db, first).application_ids == frozenset()  # nothing due, nothing changed
    day = at_local(date(2026, 12, 31), 9, 5)
    assert store.pass_scope(db, day).application_ids == {busy}
    run_pass(db, notifier, day)
    assert [m["channel"] for m in slack_api.sent("chat.postMessage")] == ["CBUSY"]
    assert store.pass_scope(db, day).application_ids == frozenset()
    walks.record_evidence(db, quiet, "T1.24", "new drill", "2026-12-30", "", "alice", day)
    assert store.pass_scope(db, day).application_ids == {quiet}  # its history says it changed
    run_pass(db, notifier, day)
    assert store.pass_scope(db, day).application_ids == frozenset()
    assert len(slack_api.sent("chat.postMessage")) == 1


def test_a_history_row_committed_after_a_later_one_is_not_missed(db, slack_api):
    from sqlalchemy import func, insert, select

    from storage import models

    late = application_with_drill(db, partner="Late", channel="CLATE")
    early = application_with_drill(db, partner="Early", channel="CEARLY")
    notifier = notifier_for(slack_api, db)
    moment = at_local(date(2026, 12, 1), 9, 5)
    run_pass(db, notifier, moment)
    with db.session() as session:
        newest = session.scalar(select(func.max(models.HistoryEntry.id)))

    def history_row(ident: int, application_id: int) -> None:
        with db.session() as session:
            session.execute(insert(models.HistoryEntry), [dict(
                id=ident, application_id=application_id, item_id="T1.24", field="note", old_value="",
                new_value="x", actor="alice", at=moment)])

    # One transaction took the next id and has not committed; the one after it has.
    history_row(newest + 2, early)
    assert store.pass_scope(db, moment).application_ids == {early}
    run_pass(db, notifier, moment)
    history_row(newest + 1, late)  # the first one commits now
    assert store.pass_scope(db, moment).application_ids >= {late}


def test_a_failed_send_does_not_stop_the_others_and_is_retried(db, slack_api):
    first = application_with_drill(db, partner="Acme", channel="CACME")
    application_with_drill(db, partner="Globex", channel="CGLOBEX")
    from bot.slack.client import RETRIES

    for _ in range(RETRIES + 1):  # the first try and the client's retries, each after looking in the channel
        slack_api.fail_next("chat.postMessage", 500)
    notifier = notifier_for(slack_api, db)
    report = run_pass(db, notifier, at_local(date(2026, 12, 31), 9, 5))
    assert report.sent == 1 and report.failed == 1
    assert len(slack_api.sent("chat.postMessage")) == 1
    report = run_pass(db, notifier, at_local(date(2026, 12, 31), 10, 5))
    assert report.sent == 1 and report.failed == 0
    channels = sorted(m["channel"] for m in slack_api.sent("chat.postMessage"))
    assert channels == ["CACME", "CGLOBEX"]
    run_pass(db, notifier, at_local(date(2026, 12, 31), 11, 5))
    assert len(slack_api.sent("chat.postMessage")) == 2
    assert first


def test_a_rate_limited_send_waits_and_is_sent(db, slack_api):
    application_with_drill(db)
    slack_api.fail_next("chat.postMessage", 429, {"Retry-After": "1"})
    report = run_pass(db, notifier_for(slack_api, db), at_local(date(2026, 12, 31), 9, 5))
    assert report.sent == 1 and len(slack_api.sent("chat.postMessage")) == 1


def test_two_processes_at_once_send_each_reminder_once(db, slack_api, tmp_path):
    for n in range(6):
        application_with_drill(db, partner=f"Partner {n}", channel=f"C{n}")
    env = {**os.environ, "DATABASE_URL": db.url.replace("postgresql+psycopg://", "postgresql://"),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack_api.url}
    moment = at_local(date(2026, 12, 31), 9, 5).isoformat()
    runs = [subprocess.Popen([sys.executable, "-m", "bot", "remind", "--now", moment], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    channels = sorted(m["channel"] for m in slack_api.sent("chat.postMessage"))
    assert channels == [f"C{n}" for n in range(6)]
    assert "reminders sent:" in outputs[0][0]


def test_remind_dry_run_prints_and_sends_nothing(db, slack_api):
    application_with_drill(db)
    env = {**os.environ, "DATABASE_URL": db.url.replace("postgresql+psycopg://", "postgresql://")}
    run = subprocess.run([sys.executable, "-m", "bot", "remind", "--dry-run", "--now", "2026-12-31T09:05+08:00"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Acme · T1.24 ") and " · reminder to " in run.stdout
    assert " day(s) left" in run.stdout and "Reminder" not in run.stdout
    assert slack_api.sent("chat.postMessage") == []
    bad = subprocess.run([sys.executable, "-m", "bot", "remind", "--now", "next tuesday"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not an ISO date-time" in bad.stderr


def test_case_studies_age_out_with_a_count_of_what_remains(db, slack_api):
    from flows.case_studies import CaseStudy
    from storage import case_studies

    created = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
    state = walks.start(db, ApplicationState(partner="Initech", delivery_type="customer_deployed",
                                             checklist_id="aws-retail-competency", language="en",
                                             timezone="Asia/Shanghai"), "alice", created, team_id=TEAM,
                        channel_id="CINIT")
    for n, produced in enumerate((date(2025, 8, 10), date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5))):
        case_studies.add(db, state.id, CaseStudy(
            customer_name=f"Customer {n}", customer_website="https://customer.example.com", challenge="c",
            deployment="d", third_party="none", production_date=produced, in_production=True, outcomes="o",
            category="stores", public=n < 2, public_url="https://partner.example.com/cs" if n < 2 else "",
            diagram="https://partner.example.com/diagram"), "alice", created)
    assert walks.load(db, state.id).answer("P2.1").status == "met"
    notifier = notifier_for(slack_api, db)
    # Customer 0 went live 2025-08-10: it counts until 2027-02-10; 60 days before is 2026-12-12.
    run_pass(db, notifier, at_local(date(2026, 12, 12), 9, 5))
    [reminder] = slack_api.sent("chat.postMessage")
    shown = "\n".join(b["text"]["text"] for b in reminder["blocks"] if b["type"] == "section")
    assert "The case study of Customer 0 leaves the" in shown and "in 60 day(s)" in shown
    assert "4 of the 4 case studies needed are still within the window." in shown
    buttons = [e["action_id"] for b in reminder["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["case_edit", "reminder_snooze_day", "reminder_snooze_week"]
    run_pass(db, notifier, at_local(date(2027, 2, 11), 9, 5))  # the day after: it no longer counts
    notice = slack_api.sent("chat.postMessage")[-1]["text"]
    assert "The case study of Customer 0 no longer counts" in notice and "3 of the 4 case studies" in notice
    assert walks.load(db, state.id).answer("P2.1").status != "met"
    changes = [(h.new_value, h.actor) for h in history(db, state.id) if h.item_id == "P2.1"
               and h.field == "status"]
    assert changes[-1][1] == "reminders"


def test_lead_times_per_application_and_per_checklist(db, slack_api):
    from flows.checklist import get_checklist
    from flows.commands import parse_lead_days

    application_id = application_with_drill(db)  # expires 2027-03-01
    assert get_checklist().reminder_lead_days == (60, 30, 14, 7, 1, 0)
    walks.set_lead_times(db, application_id, parse_lead_days("30, 7"), "alice", at_local(date(2026, 11, 28), 10))
    assert walks.load(db, application_id).lead_times == (30, 7)
    notifier = notifier_for(slack_api, db)
    run_pass(db, notifier, at_local(date(2026, 12, 31), 9, 5))  # 60 days: not wanted any more
    assert slack_api.sent("chat.postMessage") == []
    run_pass(db, notifier, at_local(date(2027, 1, 30), 9, 5))  # 30 days
    assert len(slack_api.sent("chat.postMessage")) == 1
    assert parse_lead_days("default") is None and parse_lead_days("off") == () and parse_lead_days("soon") == "invalid"
    assert ("lead_times", None, "30,7") in [(h.field, h.old_value, h.new_value)
                                           for h in history(db, application_id)]
    rows = store.tracked(db)[("aws-retail-competency", "1.0")]
    assert {row.lead_override for row in rows} == {(30, 7)}


def test_reminders_command_over_slack(db, slack_api):
    from bot.slack.server import create_web_app
    from storage import slack as slack_store
    from tests.support.slack import BotServer, send_form, slash_command

    application_id = application_with_drill(db)
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], datetime.now(timezone.utc))
    settings = SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                              "SLACK_API_URL": slack_api.url})
    server = BotServer(create_web_app(settings, db))
    try:
        _, body = send_form(server, slash_command("reminders 14, 1"))
        assert "now go out 14, 1 day(s) before evidence expires" in body
        assert walks.load(db, application_id).lead_times == (14, 1)
        _, body = send_form(server, slash_command("reminders tomorrow"))
        assert "Usage: /competency reminders" in body and "Now: 14, 1." in body
        _, body = send_form(server, slash_command("reminders default"))
        assert walks.load(db, application_id).lead_times is None
    finally:
        server.close()


def test_a_send_slower_than_a_pass_is_not_sent_again_by_it(db, slack_api):
    """Pass A's post is rate limited (its client waits out Retry-After); pass B runs three
    minutes of clock time later, while A still waits: B must leave A's claim alone."""
    import threading

    from bot.reminders import STALE_CLAIM

    application_with_drill(db)
    notifier = notifier_for(slack_api, db)
    moment = at_local(date(2026, 12, 31), 9, 5)
    slack_api.fail_next("chat.postMessage", 429, {"Retry-After": "2"})
    first = threading.Thread(target=run_pass, args=(db, notifier, moment))
    first.start()
    wait_until(lambda: any(name == "chat.postMessage!failed" for name, _ in slack_api.calls),
               "pass A's first post")
    run_pass(db, notifier, moment + timedelta(minutes=3))
    first.join(timeout=30)
    assert len(slack_api.sent("chat.postMessage")) == 1
    run_pass(db, notifier, moment + STALE_CLAIM + timedelta(minutes=1))  # A finished: nothing is stale
    assert len(slack_api.sent("chat.postMessage")) == 1


def test_the_claim_lease_outlasts_the_longest_send(db, slack_api):
    from bot.reminders import STALE_CLAIM
    from bot.slack.client import LONGEST_WAIT

    notifier = notifier_for(slack_api, db)
    assert notifier.longest_send(TEAM) < STALE_CLAIM
    application_with_drill(db)
    # A Retry-After longer than the cap is not waited out: the send fails now, the next pass sends it.
    slack_api.fail_next("chat.postMessage", 429, {"Retry-After": str(LONGEST_WAIT + 5)})
    report = run_pass(db, notifier, at_local(date(2026, 12, 31), 9, 5))
    assert report.failed == 1 and slack_api.sent("chat.postMessage") == []
    report = run_pass(db, notifier, at_local(date(2026, 12, 31), 9, 15))
    assert report.sent == 1


def test_the_sent_check_reads_every_page_since_the_claim(db, slack_api):
    application_id = application_with_drill(db)
    notifier = notifier_for(slack_api, db)
    key = "e1:60"
    slack_api.answer("chat.postMessage", {"channel": "CTEAM", "text": "reminder", "metadata": {
        "event_type": "competency_reminder", "event_payload": {"key": key}}})
    for n in range(250):  # the team talks on: the reminder is no longer on the first page
        slack_api.answer("chat.postMessage", {"channel": "CTEAM", "text": f"chat {n}"})
    target = store.application_targets(db, {application_id})[application_id]
    since = datetime(2023, 1, 1, tzinfo=timezone.utc)  # before any message of the stand-in
    assert notifier.was_sent(target, "", key, since) is True
    assert notifier.was_sent(target, "", "e1:30", since) is False
    pages = [params for name, params in slack_api.calls if name == "conversations.history"]
    assert len(pages) >= 4 and all(p.get("oldest") for p in pages)


def test_evidence_of_an_item_archived_by_an_upgrade_is_no_longer_reminded(db, slack_api, tmp_path):
    from flows.checklist import get_checklist, use_folders
    from tests.support.releases import write_release

    def without_the_drill(raw: dict) -> None:
        raw["items"] = [item for item in raw["items"] if item["id"] != "T1.24"]

    application_id = application_with_drill(db)  # expires 2027-03-01
    write_release(tmp_path, edit=without_the_drill)
    use_folders(tmp_path)
    try:
        walks.upgrade(db, application_id, get_checklist("aws-retail-competency", "2.0"), "alice",
                      at_local(date(2026, 11, 28), 10))
        notifier = notifier_for(slack_api, db)
        for day in (date(2027, 1, 30), date(2027, 3, 2), date(2027, 3, 9)):  # 30 days, expiry, escalation
            run_pass(db, notifier, at_local(day, 9, 5))
        assert slack_api.sent("chat.postMessage") == []
        assert walks.load(db, application_id).answer("T1.24").status == "met"  # archived as it was
    finally:
        use_folders()
