"""Drills planned, not only reminded (issue 18), over signed HTTP into the real Bolt app,
against the stand-in Web API: Plan it on a reminder, the form, the invite uploaded and
parsed back with icalendar, status, and the question after the planned day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.config import SlackSettings
from bot.drills import ask_pass
from bot.reminders import run_pass
from bot.slack.digest import post_due_digests
from bot.slack.reminders import METADATA_EVENT
from bot.slack.web_api import web_client
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from flows.drills import DrillPlan
from storage import drills, walks
from storage import reminders as reminder_log
from storage.applications import history
from tests.bot.slack.test_digest import MONDAY, SETTINGS, start
from tests.bot.test_reminders import application_with_drill, notifier_for
from tests.support.cli import ROOT
from tests.support.slack import (
    BOT_TOKEN,
    block_action,
    item_message_ts,
    send_form,
    send_interaction,
    slash_command,
    texts,
    view_submission,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DRILL = get_checklist(DEFAULT_CHECKLIST).item("T1.24")


def reminded(db, slack_api, application_id: int) -> dict:
    """T1.24 met with evidence of 2026-01-20 (it lasts until 2027-01-20, before the audit
    on 2027-03-01), and its 60-day reminder sent: that message."""
    for line in ("goto T1.24", "yes", "https://wiki.example.com/drill", "2026-01-20"):
        walks.step(db, application_id, line, "UALICE", datetime(2026, 11, 1, tzinfo=timezone.utc))
    run_pass(db, notifier_for(slack_api, db), datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc))
    [reminder] = [m for m in slack_api.sent("chat.postMessage")
                  if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT]
    return reminder


def plan_values(day: str, at: str = "", attendees: tuple[str, ...] = ()) -> dict:
    return {"day": {"value": {"type": "datepicker", "selected_date": day}},
            "time": {"value": {"type": "timepicker", "selected_time": at or None}},
            "attendees": {"value": {"type": "multi_users_select", "selected_users": list(attendees)}}}


def open_plan_form(server, slack_api, application_id: int, reminder: dict) -> dict:
    actions = [e for b in reminder["blocks"] if b["type"] == "actions" for e in b["elements"]]
    [plan_it] = [e for e in actions if e["action_id"] == "reminder_plan"]
    assert plan_it["value"] == f"{application_id}|T1.24"
    opened = len(slack_api.sent("views.open"))
    send_interaction(server, block_action("reminder_plan", plan_it["value"], message_ts=reminder["ts"]))
    return slack_api.wait_for("views.open", opened + 1)[-1]["view"]


def invite_of(slack_api) -> tuple[Calendar, dict]:
    completed = slack_api.wait_for("files.completeUploadExternal")[-1]
    return Calendar.from_ical(slack_api.uploads["F1"]), completed


def test_plan_it_stores_the_plan_and_shares_the_invite_in_the_reminders_thread(started, server, slack_api, db):
    slack_api.timezones["UALICE"] = "Asia/Shanghai"
    reminder = reminded(db, slack_api, started)
    view = open_plan_form(server, slack_api, started, reminder)
    assert view["callback_id"] == "drill_plan_modal" and view["title"]["text"] == "Plan the drill"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["day", "time", "attendees"]
    assert "Time (optional; in Asia/Shanghai)" in json.dumps(view)
    metadata = json.loads(view["private_metadata"])

    status, body = send_interaction(server, view_submission("drill_plan_modal", plan_values("2020-01-01"), metadata))
    assert status == 200
    assert json.loads(body) == {"response_action": "errors", "errors": {
        "day": "2020-01-01 is in the past; a drill is planned for today or a later day."}}
    assert drills.plans(db, started) == {}

    values = plan_values("2030-01-10", "10:00", ("UBOB", "UCAROL"))
    status, body = send_interaction(server, view_submission("drill_plan_modal", values, metadata))
    assert status == 200 and body == ""
    calendar, completed = invite_of(slack_api)
    assert completed["channel_id"] == "CTEAM" and completed["thread_ts"] == reminder["ts"]
    assert "T1.24 Security incident response process defined and rehearsed is planned for 10 Jan 2030 at 10:00 " \
           "(Asia/Shanghai) by <@UALICE>." in completed["initial_comment"]
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2030, 1, 10, 10, 0, tzinfo=SHANGHAI)
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai" and calendar.walk("VTIMEZONE")
    assert str(event["summary"]) == f"T1.24 {DRILL.title('en')}"
    description = str(event["description"])
    assert DRILL.text("en") in description and "Attendees: Bob, Carol" in description
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1)

    plan = drills.plans(db, started)["T1.24"]
    assert (plan.day, plan.at.isoformat(), plan.timezone, plan.attendees) == (
        date(2030, 1, 10), "10:00:00", "Asia/Shanghai", ("UBOB", "UCAROL"))
    [row] = [h for h in history(db, started) if h.field == "drill_plan"]
    assert (row.item_id, row.new_value, row.actor) == ("T1.24", "2030-01-10 10:00 Asia/Shanghai; UBOB, UCAROL",
                                                       "UALICE")

    status, body = send_form(server, slash_command("status"))
    assert "Valid today, but expired by your audit on 1 Mar 2027:" in body
    assert "last valid day 20 Jan 2027; drill planned for 10 Jan 2030 at 10:00 (Asia/Shanghai)" in body


def test_status_says_a_drill_expiring_before_the_audit_is_not_planned(started, server, slack_api, db):
    reminded(db, slack_api, started)
    status, body = send_form(server, slash_command("status"))
    assert "last valid day 20 Jan 2027; drill not planned" in body


def test_the_day_after_the_bot_asks_once_in_the_items_thread(started, server, slack_api, db):
    send_form(server, slash_command("goto T1.24"))
    thread = item_message_ts(db, "T1.24")
    reminder = reminded(db, slack_api, started)
    metadata = json.loads(open_plan_form(server, slack_api, started, reminder)["private_metadata"])
    send_interaction(server, view_submission("drill_plan_modal", plan_values("2030-01-10"), metadata))
    invite_of(slack_api)
    [plan] = drills.plans(db, started).values()
    notifier = notifier_for(slack_api, db)
    asked_before = len(slack_api.sent("chat.postMessage"))
    assert ask_pass(db, notifier, datetime(2030, 1, 10, 23, 0, tzinfo=timezone.utc)) == (0, 0)  # 23:00 UTC: the 10th
    assert ask_pass(db, notifier, datetime(2030, 1, 11, 9, 5, tzinfo=timezone.utc)) == (1, 0)
    assert ask_pass(db, notifier, datetime(2030, 1, 11, 15, 0, tzinfo=timezone.utc)) == (0, 0)  # asked once
    [question] = slack_api.sent("chat.postMessage")[asked_before:]
    assert question["channel"] == "CTEAM" and question["thread_ts"] == thread
    shown = texts(question["blocks"])
    assert "T1.24 Security incident response process defined and rehearsed was planned for 10 Jan 2030 (all day). " \
           "Did it happen?" in shown
    [button] = [e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == ("walk_evidence", f"{started}|T1.24")
    assert question["metadata"]["event_payload"]["key"] == f"d{plan.id}:0"
    assert reminder_log.recorded_keys(db, drills.DRILL) == {(plan.id, 0)}


def test_the_form_and_the_invite_speak_chinese(started, server, slack_api, db):
    walks.change(db, started, "language", "zh", "UALICE", datetime(2026, 11, 1, tzinfo=timezone.utc))
    reminder = reminded(db, slack_api, started)
    view = open_plan_form(server, slack_api, started, reminder)
    assert view["title"]["text"] == "计划演练"
    metadata = json.loads(view["private_metadata"])
    send_interaction(server, view_submission("drill_plan_modal", plan_values("2030-01-10", "09:30"), metadata))
    calendar, completed = invite_of(slack_api)
    assert "已计划于" in completed["initial_comment"]
    [event] = calendar.walk("VEVENT")
    assert str(event["summary"]) == f"T1.24 {DRILL.title('zh')}"
    assert event.decoded("dtstart") == datetime(2030, 1, 10, 9, 30, tzinfo=timezone.utc)  # Alice's zone unknown: UTC
    assert DRILL.text("zh") in str(event["description"])


def test_the_digest_lists_drills_lapsing_before_the_audit_planned_or_not(db, slack_api):
    client = web_client(SlackSettings.from_env("digest", {"SLACK_BOT_TOKEN": BOT_TOKEN,
                                                          "SLACK_API_URL": slack_api.url}), BOT_TOKEN)
    created = MONDAY - timedelta(days=1)
    planned, unplanned = start(db, "Acme Retail", "CPDM", "en"), start(db, "北京零售", "CPDMZH", "zh")
    for application_id in (planned, unplanned):
        for line in ("goto T1.24", "yes", "https://wiki.example.com/drill", "2026-01-20"):
            walks.step(db, application_id, line, "UALICE", created)
    drills.save_plan(db, planned, DrillPlan("T1.24", date(2027, 1, 10), None, "UTC"), "UALICE", created)
    post_due_digests(db, lambda team_id: client, MONDAY, settings=SETTINGS)
    replies = {m["channel"]: texts(m["blocks"]) for m in slack_api.sent("chat.postMessage") if m.get("thread_ts")}
    assert ("- T1.24 Security incident response process defined and rehearsed: met today, but its evidence counts "
            "only until 20 Jan 2027, before the audit; drill planned for 10 Jan 2027 (all day)") in replies["CPDM"]
    assert "演练尚未计划" in replies["CPDMZH"] and "T1.24" in replies["CPDMZH"]


def test_a_question_slack_made_but_answered_500_is_asked_once(started, server, slack_api, db):
    send_form(server, slash_command("goto T1.24"))
    thread = item_message_ts(db, "T1.24")
    for line in ("goto T1.24", "yes", "https://wiki.example.com/drill", "2026-01-20"):
        walks.step(db, started, line, "UALICE", datetime(2026, 11, 1, tzinfo=timezone.utc))
    drills.save_plan(db, started, DrillPlan("T1.24", date(2030, 1, 10), None, "UTC"), "UALICE",
                     datetime(2026, 11, 1, tzinfo=timezone.utc))
    slack_api.lose_next_answer("chat.postMessage")
    assert ask_pass(db, notifier_for(slack_api, db), datetime(2030, 1, 11, 9, 5, tzinfo=timezone.utc)) == (1, 0)
    slack_api.wait_for("conversations.history")  # the client looked for it before posting again
    questions = [m for m in slack_api.sent("chat.postMessage") if m.get("thread_ts") == thread]
    # Also sent to the channel, so that the channel's history shows it: found, not posted again.
    assert len(questions) == 1 and questions[0]["reply_broadcast"] in (True, "true", "1")


def test_remind_lists_then_asks_the_question_once_from_the_command_line(db, slack_api):
    application_id = application_with_drill(db)
    drills.save_plan(db, application_id, DrillPlan("T1.24", date(2030, 1, 10), time(10, 0), "Asia/Shanghai"),
                     "alice", datetime(2026, 11, 28, tzinfo=timezone.utc))
    env = {**os.environ, "DATABASE_URL": db.url.replace("postgresql+psycopg://", "postgresql://"),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack_api.url}

    def remind(*args: str) -> str:
        run = subprocess.run([sys.executable, "-m", "bot", "remind", *args, "--now", "2030-01-11T09:05+08:00"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return run.stdout

    assert (f"Acme · T1.24 {DRILL.title('en')} · question to channel CTEAM: did the drill planned for 2030-01-10 "
            "10:00 (Asia/Shanghai) happen?") in remind("--dry-run")
    assert slack_api.sent("chat.postMessage") == []  # a dry run asks nothing
    assert "drill questions asked: 1, failed: 0" in remind()
    assert "drill questions asked: 0, failed: 0" in remind()  # asked once
    asked = [m for m in slack_api.sent("chat.postMessage") if "Did it happen?" in texts(m.get("blocks") or [])]
    assert len(asked) == 1 and asked[0]["channel"] == "CTEAM"


@pytest.mark.slack_refusals
def test_an_invite_slack_refuses_keeps_the_plan_and_tells_the_planner(started, server, slack_api, db):
    reminder = reminded(db, slack_api, started)
    metadata = json.loads(open_plan_form(server, slack_api, started, reminder)["private_metadata"])
    slack_api.refuse_next("files.completeUploadExternal", "not_in_channel")
    status, body = send_interaction(server, view_submission("drill_plan_modal", plan_values("2030-01-10"), metadata))
    assert status == 200 and body == ""
    [told] = slack_api.wait_for("chat.postEphemeral")
    assert told["user"] == "UALICE" and told["channel"] == "CTEAM"
    assert told["text"] == ("The plan is saved, but Slack refused its invite (not_in_channel). Plan it again to get "
                            "the invite; the newest plan counts.")
    assert drills.plans(db, started)["T1.24"].day == date(2030, 1, 10)
