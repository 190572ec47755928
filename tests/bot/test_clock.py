"""The clock process: started as the Procfile starts it, it sends what is due now —
reminders and the PDM digest — once, and keeps nothing that matters in memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flows.application import ApplicationState
from flows.checklist import get_checklist
from storage import walks
from tests.support.cli import ROOT
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackAPI
from tests.support.wait import wait_until

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def daytime_zone(now: datetime) -> str:
    """A fixed-offset zone where it is now between 10:00 and 20:59, so 09:00 has passed."""
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}" if offset else "UTC"
        if 10 <= now.astimezone(ZoneInfo(name)).hour <= 20:
            return name
    raise AssertionError("no zone found")


def test_clock_sends_due_reminders_and_digests_once(db, tmp_path):
    api = FakeSlackAPI()
    now = datetime.now(timezone.utc)
    zone = daytime_zone(now)
    today = now.astimezone(ZoneInfo(zone)).date()
    drill = get_checklist().item("T1.24")
    evidence_date = next(today - timedelta(days=days) for days in range(300, 330)
                         if drill.expiry(today - timedelta(days=days)) == today + timedelta(days=60))
    created = now - timedelta(days=1)
    state = walks.start(db, ApplicationState(partner="Clockwork", delivery_type="saas",
                                             checklist_id="aws-retail-competency", language="en", timezone=zone,
                                             pdm_channel="CPDM"), "alice", created, team_id=TEAM, channel_id="CTEAM")
    for line in ("goto T1.24", "yes", "drill report", evidence_date.isoformat()):
        walks.step(db, state.id, line, "alice", created)
    env = {**os.environ, "DATABASE_URL": db.url.replace("postgresql+psycopg://", "postgresql://"),
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": api.url,
           "DIGEST_SCHEDULE": f"{WEEKDAYS[now.weekday()]} {now.hour:02d}", "REMINDER_INTERVAL_MINUTES": "1"}
    log_file = tmp_path / "clock.log"
    with log_file.open("w") as output:
        clock = subprocess.Popen([sys.executable, "-m", "bot", "clock"], env=env, cwd=ROOT, stdout=output,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        # Both jobs' first runs are over once each has logged its summary line.
        wait_until(lambda: "reminder pass: sent=" in log_file.read_text()
                   and "digests: " in log_file.read_text(), "the clock's first passes did not finish", timeout=60)
    finally:
        clock.send_signal(signal.SIGTERM)
        clock.wait(timeout=20)
        api.close()
    output = log_file.read_text()
    posts = api.sent("chat.postMessage")
    reminders = [m for m in posts if m["channel"] == "CTEAM"]
    digests = [m for m in posts if m["channel"] == "CPDM" and not m.get("thread_ts")]
    assert len(reminders) == 1, output
    assert "T1.24" in reminders[0]["text"]
    assert len(digests) == 1 and "Clockwork" in str([m for m in posts if m["channel"] == "CPDM"])
    assert "Traceback" not in output
