"""Benchmark: one reminder pass over many pieces of evidence.

    .venv/bin/python bench/reminders_bench.py [--database-url URL] [--evidence 100000] [--applications 2000]

Builds the data in a fresh SQLite file (or the given PostgreSQL database, whose public
schema is dropped first), then times one full pass (everything due is claimed and
"sent" through a notifier that only counts) and a second, steady-state pass, and counts
the SQL statements of each. Prints one table row per pass.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from bench.support import drop_database, fresh_database, header
from bot.reminders import run_pass
from flows.checklist import get_checklist
from storage import models
from storage.db import Database

NOW = datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)


class CountingNotifier:
    def __init__(self):
        self.sent = 0

    def prepare(self, db, now):
        pass

    def remind(self, notice):
        self.sent += 1
        return True

    expired = remind

    def escalate(self, notice, channel):
        self.sent += 1
        return True

    def was_sent(self, application, recipient, key, since):
        return None


def build(db: Database, evidence_count: int, application_count: int, seed: int = 7) -> int:
    """The applications, their dated answers and evidence; returns the number of evidence rows."""
    random.seed(seed)
    checklist = get_checklist()
    dated = [item for item in checklist.items if item.max_age]
    per_answer = max(1, -(-evidence_count // (application_count * len(dated))))  # at least evidence_count
    created = NOW - timedelta(days=800)
    with db.engine.begin() as connection:
        connection.execute(insert(models.Application), [
            dict(id=n + 1, checklist_id=checklist.id, team_id="T1", channel_id=f"C{n}", partner_name=f"Partner {n}",
                 partner_key=f"partner {n}", delivery_type="saas", categories=["stores"], language="en",
                 timezone=random.choice(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
                 finished=False, created_by="bench", created_at=created, updated_at=created, pdm_channel_id="CPDM")
            for n in range(application_count)])
        answers, evidence = [], []
        answer_id = evidence_id = 0
        for application in range(1, application_count + 1):
            for item in dated:
                answer_id += 1
                answers.append(dict(id=answer_id, application_id=application, item_id=item.id, status="met",
                                    note="", answered_by="bench", assignee=""))
                # A team that keeps its evidence current: the newest piece lies anywhere in its
                # window, older pieces one window apart before it (superseded history).
                window = (item.expiry(NOW.date()) - NOW.date()).days
                newest = NOW.date() - timedelta(days=random.randint(0, window - 1))
                for age in range(per_answer):
                    evidence_id += 1
                    day = newest - timedelta(days=age * window)
                    evidence.append(dict(id=evidence_id, answer_id=answer_id, text="report", evidence_date=day,
                                         expires_on=item.expiry(day), added_by="bench", added_at=created))
        connection.execute(insert(models.Answer), answers)
        for start in range(0, len(evidence), 20000):
            connection.execute(insert(models.Evidence), evidence[start:start + 20000])
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            # A bulk load leaves the planner without statistics (autovacuum would gather
            # them a little later in production); without them it nests loops over 100k rows.
            connection.execute(text("ANALYZE"))
    return len(evidence)


def measure(db: Database, now: datetime = NOW) -> tuple[float, int, int]:
    """One pass at ``now``: seconds, SQL statements, actions sent (reminders, flips, escalations)."""
    statements_before = db.statements.total
    notifier = CountingNotifier()
    started = time.perf_counter()
    report = run_pass(db, notifier, now)
    elapsed = time.perf_counter() - started
    return elapsed, db.statements.total - statements_before, report.sent + report.flipped + report.escalated


# Three passes, as the clock makes them: the first ever, the next day's, and the usual one.
PASSES = (
    ("first pass ever: catches up 3 days of reminders", NOW - timedelta(days=1)),
    ("a day later: that day's reminders", NOW),
    ("again at the same moment: nothing new (the usual pass)", NOW),
)


def run(url: str, evidence: int = 100_000, applications: int = 2_000) -> tuple[int, list[tuple[str, float, int, int]]]:
    """Build the data in a fresh database at ``url``, then time :data:`PASSES`; returns the
    number of evidence rows built and (label, seconds, statements, actions) per pass."""
    db = fresh_database(url)
    try:
        rows = build(db, evidence, applications)
        return rows, [(label, *measure(db, now)) for label, now in PASSES]
    finally:
        drop_database(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--evidence", type=int, default=100_000)
    parser.add_argument("--applications", type=int, default=2_000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    rows, results = run(url, args.evidence, args.applications)
    print(header(f"reminder pass benchmark, {backend}, {args.applications} applications, {rows} evidence rows"))
    print("| pass | time | SQL statements | actions sent |")
    print("|---|---|---|---|")
    for label, seconds, statements, actions in results:
        print(f"| {label} | {seconds:.2f} s | {statements} | {actions} |")


if __name__ == "__main__":
    main()
