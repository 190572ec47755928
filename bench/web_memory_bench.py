"""Benchmark: the memory of the web process (issue 17: at most 110 MB of PSS in all).

    .venv/bin/python bench/web_memory_bench.py [--postgres URL] [--workers 2,1] [--runs 2]
        [--answers 40,2000] [--checkout DIR ...]

Starts ``python -m bot web`` as the Procfile does (with ``WEB_WORKERS`` from ``--workers``)
on a fresh PostgreSQL database, and reads each process's ``/proc/PID/smaps_rollup``: idle
right after start, then after each total of ``--answers`` answers, sent as
bench/web_bench.py sends them (its ``Server``, ``seed`` and ``run``; 8 clients, one
application each). PSS splits the pages a worker shares with its master between them, so
the summed PSS (master + workers) is the memory the web process really holds.

``--checkout DIR`` (repeatable) also measures the bot in another checkout of the project
(a git worktree of an earlier commit, say), its runs interleaved with this one's, so that
before and after meet the same load of a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import drop_database, fresh_database, header, plain_url  # noqa: E402
from bench.web_bench import BOT, CANDIDATES, Server, proc_kb, run, seed, server_pids  # noqa: E402
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlackAPI  # noqa: E402

CLIENTS = 8
SETTLE = 2.0  # seconds after /healthz answers, for every worker to have booted


def pss_mb(pids: list[int]) -> list[float]:
    return [proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024 for pid in pids]


def wait_for_workers(pid: int, workers: int, limit: float = 30.0) -> list[int]:
    """The master and its workers, once all ``workers`` are up."""
    deadline = time.monotonic() + limit
    while len(server_pids(pid)) < workers + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(SETTLE)
    return server_pids(pid)


def measure(checkout: Path, workers: int, answers: list[int], env: dict, applications: list[int],
            api: FakeSlackAPI) -> list[list[float]]:
    """PSS in MB of the master and each worker, idle and after each total of ``answers``."""
    server = Server(CANDIDATES[BOT], {**env, "WEB_WORKERS": str(workers)}, cwd=checkout)
    try:
        pids = wait_for_workers(server.process.pid, workers)
        readings = [pss_mb(pids)]
        positions: dict[str, int] = {}
        done = 0
        for total in answers:
            result = run(server, CLIENTS, total - done, applications, positions, api)
            assert not result["errors"], f"{result['errors']} answers were not acknowledged"
            done = total
            readings.append(pss_mb(pids))
        return readings
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--workers", default="2,1", help="WEB_WORKERS values, comma-separated")
    parser.add_argument("--runs", type=int, default=2, help="runs per checkout and worker count")
    parser.add_argument("--answers", default="40,2000", help="totals of answers after which PSS is read")
    parser.add_argument("--checkout", action="append", type=Path, default=[],
                        help="another checkout of the project whose bot to measure as well")
    args = parser.parse_args()
    if not args.postgres:
        parser.error("needs PostgreSQL: --postgres postgresql://user@host:port/db or TEST_DATABASE_URL")
    answers = [int(n) for n in args.answers.split(",")]
    checkouts = [ROOT, *(path.resolve() for path in args.checkout)]
    plan = [(run_number, workers, checkout) for run_number in range(args.runs)
            for workers in (int(n) for n in args.workers.split(",")) for checkout in checkouts]

    api = FakeSlackAPI()
    db = fresh_database(args.postgres)
    try:
        seed(db, CLIENTS * len(plan))
        env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
               "SLACK_API_URL": api.url, "LOG_LEVEL": "WARNING", "DATABASE_URL": plain_url(db)}
        print(header("web process memory, PostgreSQL"))
        print()
        print("| checkout | workers | run | master PSS | workers' PSS | summed PSS, idle | "
              + " | ".join(f"after {n:,} answers" for n in answers) + " |")
        print("|---|---|---|---|---|---|" + "---|" * len(answers))
        for number, (run_number, workers, checkout) in enumerate(plan):
            applications = list(range(number * CLIENTS + 1, (number + 1) * CLIENTS + 1))
            readings = measure(checkout, workers, answers, env, applications, api)
            last = readings[-1]
            print(f"| {checkout.name} | {workers} | {run_number + 1} | {last[0]:.1f} | "
                  f"{', '.join(f'{mb:.1f}' for mb in last[1:])} | "
                  + " | ".join(f"{sum(each):.1f}" for each in readings) + " |", flush=True)
    finally:
        api.close()
        drop_database(db)
    print()
    print("(MB; master and workers' PSS after the last answers)")


if __name__ == "__main__":
    main()
