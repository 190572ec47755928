"""Benchmark: the PDM digest over many applications — time and SQL queries.

    .venv/bin/python bench/digest_bench.py [--applications 10 1000 10000] [--channels 10]
                                           [--database-url postgresql://…] [--repeat 5]

Seeds applications with realistic answers, evidence, case studies and a week of history
into a fresh SQLite file (and, when ``--database-url`` or ``TEST_DATABASE_URL`` is given,
a fresh database of its own on that PostgreSQL server, dropped at the end), size after
size, then times what the clock does for every PDM channel before posting: load
everything, judge readiness, render every Slack message. Prints the best of ``--repeat``
runs and the number of SQL statements per size, so a count that grows with the number
of applications shows at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import drop_database, fresh_database, header
from bot.config import DigestSettings
from bot.digest import pdm_channels
from bot.slack.digest import run_messages
from storage.db import Database
from tests.support.seed import NOW, seed


def generate(db: Database, now: datetime = NOW) -> int:
    """What the clock does for every channel before posting; returns the number of Slack messages."""
    settings = DigestSettings(pdm_channel="")
    messages = 0
    for _, replies in run_messages(db, pdm_channels(db, settings), settings, now):
        messages += 1 + len(replies)
    return messages


def measure(db: Database, repeat: int) -> tuple[float, float, int, int]:
    """Best time of ``repeat`` runs and the CPU seconds of that run (the machine is shared:
    other processes lengthen the wall time, not the CPU time), SQL statements per run, Slack
    messages per run."""
    best = best_cpu = float("inf")
    messages = statements = 0
    for _ in range(repeat):
        statements_before = db.statements.total
        started, cpu_started = time.perf_counter(), time.process_time()
        messages = generate(db)
        seconds = time.perf_counter() - started
        if seconds < best:
            best, best_cpu = seconds, time.process_time() - cpu_started
        statements = db.statements.total - statements_before
    return best, best_cpu, statements, messages


def run(url: str, sizes: list[int] = (10, 1000), channels: int = 10,
        repeat: int = 5) -> list[tuple[int, float, float, int, int]]:
    """Seed a fresh database at ``url`` with the smallest of ``sizes`` applications, then
    up to each next one; for each size: the best seconds of ``repeat`` digests and that
    run's CPU seconds, SQL statements and Slack messages per digest."""
    db = fresh_database(url)
    results = []
    try:
        seeded = 0
        for size in sorted(set(sizes)):
            seed(db, size - seeded, channels=channels, rng_seed=size)
            seeded = size
            if not db.is_sqlite:
                with db.engine.begin() as connection:
                    # As after any bulk load: statistics for the planner now, rather than
                    # autovacuum gathering them (and taking a core) in the middle of the timing.
                    connection.execute(text("ANALYZE"))
            results.append((size, *measure(db, repeat)))
    finally:
        drop_database(db)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, nargs="+", default=[10, 1000, 10000],
                        help="sizes, seeded one after the other into the same database")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backends = [("sqlite", f"sqlite:///{folder}/bench.db")]
        if args.database_url:
            backends.append(("postgresql", args.database_url))
        print(header(f"digest benchmark, best of {args.repeat}"))
        print(f"{'database':<11} {'applications':>12} {'seconds':>8} {'cpu':>8} {'queries':>8} {'messages':>9}")
        for name, url in backends:
            for size, seconds, cpu, queries, messages in run(url, args.applications, args.channels, args.repeat):
                print(f"{name:<11} {size:>12} {seconds:>8.3f} {cpu:>8.3f} {queries:>8} {messages:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
