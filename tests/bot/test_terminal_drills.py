"""``plan`` in the terminal (issue 18): the current item's drill, planned in the local
time zone, its invite written to the data folder and parsed back with icalendar; in
English and Chinese, through the real command line."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar

from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from tests.bot.test_terminal_walk import run

DRILL = get_checklist(DEFAULT_CHECKLIST).item("T2.13")
# Lasts until 2027-01-20; the walk then moves on, so the drill is gone to again.
RECORDED = "goto T2.13\nyes\nhttps://wiki.example.com/dr-test\n2026-01-20\ngoto T2.13\n"


def chat(database_url: str, tmp_path: Path, stdin: str, lang: str, tz: str) -> str:
    result = run(database_url, "chat", "--partner", "Acme Retail", "--delivery", "saas", "--categories", "stores",
                 "--lang", lang, "--audit", "2030-03-01", stdin=stdin, home=tmp_path, tz=tz)
    assert result.returncode == 0, result.stderr
    return result.stdout


def invite_at(out: str, pattern: str) -> Calendar:
    [path] = re.findall(pattern, out)
    return Calendar.from_ical(Path(path).read_bytes())


def test_plan_writes_an_invite_in_the_local_zone_and_status_shows_it(database_url, tmp_path):
    out = chat(database_url, tmp_path, RECORDED + "status\nplan 2020-01-01\nplan 2029-05-05 25:00\n"
               "plan 2029-05-05 14:30\nstatus\n", "en", "Asia/Shanghai")
    assert "last valid day 20 Jan 2027; drill not planned" in out
    assert "2020-01-01 is in the past; a drill is planned for today or a later day." in out
    assert '"25:00" is not a time; type it as HH:MM (24 hours), e.g. 14:30.' in out
    assert (f"T2.13 {DRILL.title('en')} is planned for 5 May 2029 at 14:30 (Asia/Shanghai) by tester.") in out
    assert "last valid day 20 Jan 2027; drill planned for 5 May 2029 at 14:30 (Asia/Shanghai)" in out
    calendar = invite_at(out, r"The calendar invite is written to (.+\.ics)\.")
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2029, 5, 5, 14, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(event["summary"]) == f"T2.13 {DRILL.title('en')}" and DRILL.text("en") in str(event["description"])
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1)
    assert str(tmp_path / "data" / "competency-bot" / "invites") in out  # the user's data folder


def test_plan_in_chinese_and_only_on_an_item_with_a_window(database_url, tmp_path):
    out = chat(database_url, tmp_path, RECORDED + "计划 2029年5月5日\n跳到 T1.1\n计划 2029-05-05\n", "zh", "UTC")
    assert f"T2.13 {DRILL.title('zh')} 已计划于 2029年5月5日（全天）（由 tester 安排）。" in out
    assert "T1.1 的证明材料没有有效期，因此无需计划演练" in out
    calendar = invite_at(out, r"日历邀请已写入 (.+\.ics)。")
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == date(2029, 5, 5) and str(event["summary"]) == f"T2.13 {DRILL.title('zh')}"
    assert calendar.walk("VTIMEZONE") == []
