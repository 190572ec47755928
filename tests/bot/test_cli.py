"""The command-line program, run as a subprocess the way people run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from storage.db import head_revision
from tests.support.cli import ROOT, bot


def test_chat_resumes_after_restart_and_export_holds_the_answers(database_url):
    first = bot(database_url, "chat", "--partner", "Acme", "--delivery", "saas",
                "--categories", "stores,1", "--lang", "en",
                stdin="yes\nno\nskip\nnote 42 customers\n")
    assert first.returncode == 0, first.stderr
    assert "P1.1 · APN Program Membership" in first.stdout
    assert "Saved: P1.2 not met." in first.stdout
    assert "Everything is saved." in first.stdout

    second = bot(database_url, "chat", "--partner", "acme", stdin="yes\nhttps://example.com/customers\nstatus\n")
    assert second.returncode == 0, second.stderr
    assert "Welcome back, Acme: 2 of 62 items answered." in second.stdout
    assert second.stdout.index("P1.4 · APN Program Membership") < second.stdout.index("Saved: P1.4 met.")
    assert "Prerequisites: 3/14 answered, 2 met, 1 not met, 0 expired, 1 skipped" in second.stdout

    exported = bot(database_url, "export", "--partner", "Acme", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    items = {i["id"]: i for part in document["parts"] for i in part["items"]}
    assert items["P1.1"]["status"] == "met" and items["P1.1"]["answered_by"] == "tester"
    assert items["P1.2"]["status"] == "not_met"
    assert items["P1.3"]["status"] == "skipped"
    assert items["P1.4"]["note"] == "42 customers"
    assert items["P1.4"]["evidence"][0]["text"] == "https://example.com/customers"
    assert "D2" not in items and len(items) == 62
    assert document["email_subject"].startswith("Acme, Retail Competency")

    markdown = bot(database_url, "export", "--partner", "Acme", "--format", "md")
    assert "| P1.4 | Customer Adoption | Yes | Yes | Yes | met | <https://example.com/customers> |" in markdown.stdout


def test_first_run_asks_for_the_application(tmp_path):
    url = f"sqlite:///{tmp_path / 'first.db'}"
    run = bot(url, "chat", "--lang", "en", stdin="\nGlobex\nmainframe\n2\n9,stores\n4,stores\n\nyes\n")
    assert run.returncode == 0, run.stderr
    assert "The partner name cannot be empty." in run.stdout
    assert "mainframe is not a delivery type" in run.stdout
    assert "9 is not a category" in run.stdout
    assert "Saved: P1.1 met." in run.stdout
    exported = json.loads(bot(url, "export", "--partner", "Globex", "--format", "json").stdout)
    assert exported["delivery_type"] == "customer_deployed"
    assert [c["id"] for c in exported["categories"]] == ["stores"]


def test_sigkill_mid_walk_loses_nothing_that_was_saved(tmp_path):
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    env = {**os.environ, "DATABASE_URL": url, "USER": "tester"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--partner", "Initech", "--delivery", "saas", "--categories", "stores",
         "--lang", "en"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    process.stdin.write("yes\nno\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    seen = ""
    while "Saved: P1.2 not met." not in seen and time.monotonic() < deadline:
        seen += process.stdout.readline()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert "Saved: P1.2 not met." in seen
    document = json.loads(bot(url, "export", "--partner", "Initech", "--format", "json").stdout)
    items = {i["id"]: i["status"] for part in document["parts"] for i in part["items"]}
    assert items["P1.1"] == "met" and items["P1.2"] == "not_met"


def test_checklist_json(tmp_path):
    run = bot(f"sqlite:///{tmp_path / 'c.db'}", "checklist", "--json", "--lang", "en")
    data = json.loads(run.stdout)
    assert data["checklist"] == "aws-retail-competency" and data["language"] == "en"
    assert data["delivery_types"] == ["saas", "customer_deployed"]
    assert len(data["categories"]) == 6 and len(data["items"]) == 63
    t1_11 = next(i for i in data["items"] if i["id"] == "T1.11")
    assert t1_11["part"] == "technical" and t1_11["max_age"] == {"days": 7}
    assert t1_11["applies_to"] == ["saas", "customer_deployed"]


def test_bad_input_on_the_command_line_is_a_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    run = bot(url, "export", "--partner", "Nobody")
    assert run.returncode == 2 and "no application for partner 'Nobody'" in run.stderr
    assert "Traceback" not in run.stderr
    run = bot(url, "chat", "--partner", "X", "--categories", "nonsense", "--lang", "en")
    assert run.returncode == 2 and "nonsense is not a category" in run.stderr
    run = bot("postgresql://nobody@127.0.0.1:1/none", "export", "--partner", "X")
    assert run.returncode == 1 and "cannot use the database" in run.stderr and "Traceback" not in run.stderr


def test_db_upgrade(tmp_path):
    run = bot(f"sqlite:///{tmp_path / 'up.db'}", "db", "upgrade")
    newest = head_revision()
    assert run.returncode == 0 and f"database schema: {newest} (newest: {newest})" in run.stdout


def test_missing_settings_say_which_and_where_they_come_from(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "TOKEN_ENCRYPTION_KEY"}
    run = subprocess.run([sys.executable, "-m", "bot", "tokens", "rotate"], capture_output=True, text=True,
                         cwd=ROOT, env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}, timeout=120)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "competency-bot: `tokens rotate` needs these environment variables:",
        '  TOKEN_ENCRYPTION_KEY: generate one with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())" (comma-separate several to rotate; the first encrypts)',
        "See the README's 'Slack set-up' section.",
    ]
    run = subprocess.run([sys.executable, "-m", "bot", "web"], capture_output=True, text=True, cwd=ROOT,
                         env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}, timeout=120)
    assert run.returncode == 2
    assert "  SLACK_SIGNING_SECRET: Slack app settings → Basic Information → App Credentials → Signing Secret" \
        in run.stderr.splitlines()
    assert any(line.startswith("  SLACK_BOT_TOKEN: Slack app settings → OAuth & Permissions")
               for line in run.stderr.splitlines())


def test_a_bad_digest_schedule_is_named(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "DIGEST_SCHEDULE": "mon 25"}
    run = subprocess.run([sys.executable, "-m", "bot", "digest", "--print"], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 2
    assert run.stderr == "competency-bot: DIGEST_SCHEDULE 'mon 25': the hour must be 0 to 23\n"


def test_a_partner_in_two_workspaces_is_never_chosen_silently(tmp_path):
    from datetime import datetime, timezone

    from flows.application import ApplicationState
    from storage import walks
    from storage.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'two.db'}"
    db = Database(url)
    upgrade(db)
    ids = {team: walks.start(db, ApplicationState(partner="Acme", delivery_type=delivery, language="en",
                                                  checklist_id="aws-retail-competency"),
                             "seed", datetime.now(timezone.utc), team_id=team, channel_id="C1").id
           for team, delivery in (("T111", "saas"), ("T222", "customer_deployed"))}

    run = bot(url, "export", "--partner", "ACME", "--format", "json")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == ("competency-bot: 'ACME' has applications in several places: T111, T222; "
                          "choose one with --team\n")
    run = bot(url, "export", "--partner", "ACME", "--team", "T222", "--format", "json")
    assert run.returncode == 0 and json.loads(run.stdout)["delivery_type"] == "customer_deployed"

    run = bot(url, "chat", "--partner", "acme", "--lang", "en", stdin="3\n2\nno\n")
    assert run.returncode == 0, run.stderr
    assert "acme has an application in more than one place. Which one? Type its number:\n" \
           "  1. Slack workspace T111\n  2. Slack workspace T222\n" in run.stdout
    assert "Type a number from 1 to 2." in run.stdout
    run = bot(url, "chat", "--partner", "acme", "--team", "T111", stdin="yes\n")
    assert run.returncode == 0, run.stderr
    assert [walks.load(db, ids[team]).answer("P1.1").status for team in ("T111", "T222")] == ["met", "not_met"]

    run = bot(url, "chat", "--partner", "acme", "--team", "T999", "--lang", "en")
    assert run.returncode == 1 and "Slack workspace T999 has no application for acme" in run.stdout
    db.engine.dispose()


def test_a_partner_name_with_control_or_direction_characters_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'names.db'}"
    run = bot(url, "chat", "--partner", "\u202eemcA", "--lang", "en")
    assert run.returncode == 2 and run.stderr == (
        "competency-bot: The partner name cannot hold line breaks, tabs, control characters or text-direction marks.\n")
    run = bot(url, "chat", "--lang", "en", stdin="Acme\u2066x\u2069\nAcme\x1b[2J\nsaas\nstores\n\n")
    assert "text-direction marks" in run.stdout
    assert "Acme[2J" in bot(url, "export", "--partner", "acme[2j", "--format", "json").stdout
