"""The ``clock`` process (one APScheduler scheduler) and the one-off ``remind`` pass."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.schedulers.blocking import BlockingScheduler

from bot.config import ClockSettings, DigestSettings, SlackSettings
from bot.drills import ask_pass, due_questions
from bot.reminders import PassReport, due_notices, run_pass
from bot.render import render
from bot.slack.digest import post_due_digests
from bot.slack.reminders import SlackNotifier
from bot.slack.web_api import client_factory
from storage.db import Database

log = logging.getLogger(__name__)


def notifier(db: Database, command: str) -> SlackNotifier:
    return SlackNotifier(client_factory(SlackSettings.from_env(command), db))


def reminder_pass(db: Database, now: datetime, command: str = "remind") -> tuple[PassReport, tuple[int, int]]:
    """One reminder pass, then the questions about planned drills whose day is over:
    the pass's report and (questions asked, failed)."""
    send = notifier(db, command)
    report = run_pass(db, send, now, pdm_default=DigestSettings.from_env().pdm_channel)
    return report, ask_pass(db, send, now)


def print_due(db: Database, now: datetime) -> None:
    """``remind --dry-run``: what a pass at ``now`` would do, one readable line each (one
    line when nothing is due); nothing is sent or recorded."""
    notices = due_notices(db, now)
    pdm_default = DigestSettings.from_env().pdm_channel
    print(render("cli.j2", "due", "en", notices=notices, questions=due_questions(db, now), now=now,
                 pdm_default=pdm_default))


def run_clock(db: Database) -> None:
    """Every few minutes, one reminder pass and the digests whose slot has come. Nothing
    that matters lives in this process: each run reads what is due from the database and
    claims it there, so a restart loses nothing and a second clock sends nothing twice."""
    minutes = ClockSettings.from_env().interval_minutes
    pdm_default = DigestSettings.from_env().pdm_channel
    settings = SlackSettings.from_env("clock")
    client_for = client_factory(settings, db)
    send = SlackNotifier(client_for)
    scheduler = BlockingScheduler(timezone=timezone.utc)

    def digests_job() -> None:
        posted = post_due_digests(db, client_for, datetime.now(timezone.utc))
        if posted:
            log.info("digests: %s posted, %s failed", sum(p.ts is not None for p in posted),
                     sum(p.ts is None for p in posted))

    def reminders_job() -> None:
        moment = datetime.now(timezone.utc)
        report = run_pass(db, send, moment, pdm_default=pdm_default)
        asked, failed = ask_pass(db, send, moment)
        log.info("reminder pass: sent=%s failed=%s expired=%s escalated=%s; drills asked=%s failed=%s", report.sent,
                 report.failed, report.flipped, report.escalated, asked, failed)

    # coalesce + one instance: a late or slow pass never runs twice at once in this process;
    # other processes are kept out by the claims in the database.
    for job, name in ((reminders_job, "reminders"), (digests_job, "digests")):
        scheduler.add_job(job, "interval", minutes=minutes, id=name, coalesce=True, max_instances=1,
                          next_run_time=datetime.now(timezone.utc), misfire_grace_time=minutes * 60)
    scheduler.start()
