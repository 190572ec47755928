"""Benchmark: answering checklist items through the bot, against a bare Bolt app.

    .venv/bin/python bench/web_bench.py [--requests 300] [--postgres URL]

Starts `python -m bot web` exactly as the Procfile does (same gunicorn settings) on SQLite,
then on PostgreSQL when a URL is given (or TEST_DATABASE_URL is set), and a bare Bolt app
(bench/bare_app.py) that only acknowledges, all pointing at a local stand-in Web API.
A separate driver process sends signed `block_actions` requests over loopback at
concurrency 1, 8 and 32, a fixed number each, bounded in time. For the bot every request
answers a real item of a real application and is really stored. Prints requests/s,
acknowledgement latency percentiles, errors, peak RSS of the server processes, SQL
statements per request (from the bot's /metrics) and the bot/bare throughput ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import cpu_seconds, header  # noqa: E402
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackAPI, signed_headers  # noqa: E402
from tests.support.web import free_port, wait_healthy  # noqa: E402

LEVELS = (1, 8, 32)
APPLICATIONS = 64
MEMBERS = [f"UMEMBER{n}" for n in range(8)]
TIME_LIMIT = 120  # seconds per level, whatever happens


def seed(database_url: str) -> list[tuple[int, str]]:
    """Applications bound to channels with members; returns (application id, item id) pairs."""
    from bench.support import fresh_database
    from flows.application import ApplicationState
    from flows.checklist import get_checklist
    from storage import slack as slack_store
    from storage import walks

    db = fresh_database(database_url)
    now = datetime.now(timezone.utc)
    items = [item.id for item in get_checklist().applicable_items("saas") if not item.derived_from]
    targets = []
    for n in range(APPLICATIONS):
        state = walks.start(db, ApplicationState(partner=f"Bench {n}", delivery_type="saas",
                                                 checklist_id="aws-retail-competency", language="en"),
                            "bench", now, team_id=TEAM, channel_id=f"CBENCH{n}")
        slack_store.replace_members(db, TEAM, f"CBENCH{n}", MEMBERS, now)
        targets += [(state.id, item) for item in items]
    db.engine.dispose()
    return targets


def start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def server_pids(pid: int) -> list[int]:
    """The gunicorn master and its workers."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return pids


def _proc_kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak memory of the server's processes while it runs: each process's own peak RSS
    (VmHWM, from the kernel), and the peak of their summed PSS, sampled every 0.2 s.

    RSS counts the pages a forked worker shares with its master in both; PSS splits
    shared pages between the processes that share them, so its sum is the memory the
    server really holds."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_pss_kb = 0
        self.peak_rss_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pids = server_pids(self.pid)
        self.peak_pss_kb = max(self.peak_pss_kb, sum(_proc_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
        for each in pids:
            self.peak_rss_kb[each] = max(self.peak_rss_kb.get(each, 0), _proc_kb(f"/proc/{each}/status", "VmHWM:"))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._sample()
        self._stop.set()
        self._thread.join()
        master = self.peak_rss_kb.get(self.pid, 0)
        workers = [kb for pid, kb in self.peak_rss_kb.items() if pid != self.pid]
        return {"master_rss": master / 1024, "worker_rss": max(workers, default=0) / 1024,
                "pss": self.peak_pss_kb / 1024}


def metrics(port: int) -> dict[str, int]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return {k: int(v) for k, v in (line.split(" ") for line in response.read().decode().splitlines())}
    except OSError:
        return {}


def drive(port: int, concurrency: int, requests: int, targets: list[tuple[int, str]], offset: int) -> dict:
    """Run in its own process (see main): send requests, measure acknowledgement latency."""
    import http.client

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + TIME_LIMIT

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            application_id, item_id = targets[(offset + n) % len(targets)]
            payload = {
                "type": "block_actions", "team": {"id": TEAM},
                "user": {"id": MEMBERS[n % len(MEMBERS)], "team_id": TEAM},
                "api_app_id": "A1", "token": "x", "trigger_id": "t", "channel": {"id": f"CBENCH{application_id - 1}"},
                "container": {"type": "message", "message_ts": "1.1", "channel_id": f"CBENCH{application_id - 1}"},
                "message": {"type": "message", "ts": "1.1", "text": "", "blocks": []},
                "actions": [{"action_id": "walk_met" if n % 2 else "walk_not_met", "block_id": "b",
                             "value": f"{application_id}|{item_id}", "type": "button",
                             "action_ts": f"{time.time():.6f}{n}"}],
            }
            body = "payload=" + urllib.parse.quote(json.dumps(payload))
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
            started = time.perf_counter()
            try:
                connection.request("POST", "/slack/events", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"rps": len(latencies) / wall, "p50": percentile(0.50), "p95": percentile(0.95),
            "p99": percentile(0.99), "errors": errors[0], "done": len(latencies)}


def run_level(port: int, concurrency: int, requests: int, targets_file: str, offset: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--drive", str(port), str(concurrency), str(requests), targets_file, str(offset)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIME_LIMIT + 60,
    )
    return json.loads(output.stdout)


def bench_server(name: str, command: list[str], env: dict, requests: int, targets_file: str) -> dict:
    port = free_port()
    process = start(command, {**env, "PORT": str(port)})
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=60)
        memory = MemorySampler(process.pid)
        results = {}
        offset = 0
        for level in LEVELS:
            before = metrics(port).get("sql_statements_total", 0)
            cpu_before = sum(cpu_seconds(pid) for pid in server_pids(process.pid))
            result = run_level(port, level, requests, targets_file, offset)
            offset += requests
            time.sleep(0.5)  # let post-acknowledgement work finish before reading the counters
            after = metrics(port).get("sql_statements_total", 0)
            cpu_after = sum(cpu_seconds(pid) for pid in server_pids(process.pid))
            result["sql_per_request"] = (after - before) / max(result["done"], 1) if after else None
            result["cpu_ms"] = (cpu_after - cpu_before) * 1000 / max(result["done"], 1)
            results[level] = result
        results["memory"] = memory.stop()
        return results
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--skip-jobs", action="store_true", help="skip the digest and reminder timings")
    parser.add_argument("--drive", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        port, concurrency, requests, targets_file, offset = args.drive
        targets = [tuple(t) for t in json.loads(Path(targets_file).read_text())]
        print(json.dumps(drive(int(port), int(concurrency), int(requests), targets, int(offset))))
        return

    api = FakeSlackAPI()
    base_env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": api.url, "LOG_LEVEL": "WARNING"}
    databases = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    if args.postgres:
        databases.append(("PostgreSQL", args.postgres))
    print(header(f"web benchmark, {args.requests} requests per level"))
    print("| server | database | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | SQL/request "
          "| server CPU ms/request | bot/bare |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    bare = bench_server("bare", [sys.executable, "bench/bare_app.py"], base_env, args.requests,
                        _targets_file([(1, "P1.1")]))
    for level in LEVELS:
        r = bare[level]
        print(f"| bare Bolt | — | {level} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
              f"{r['errors']} | — | {r['cpu_ms']:.1f} | — |")
    memory = {"bare Bolt": bare["memory"]}
    for label, url in databases:
        targets_file = _targets_file(seed(url))
        env = {**base_env, "DATABASE_URL": url}
        bot = bench_server("bot", [sys.executable, "-m", "bot", "web"], env, args.requests, targets_file)
        for level in LEVELS:
            r = bot[level]
            sql = f"{r['sql_per_request']:.1f}" if r["sql_per_request"] is not None else "?"
            print(f"| bot | {label} | {level} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
                  f"{r['errors']} | {sql} | {r['cpu_ms']:.1f} | {r['rps'] / bare[level]['rps']:.2f} |")
        memory[f"bot ({label})"] = bot["memory"]
    api.close()
    print()
    print("| server | worker peak RSS (MB) | master peak RSS (MB) | peak PSS, master + worker (MB) |")
    print("|---|---|---|---|")
    for name, m in memory.items():
        print(f"| {name} | {m['worker_rss']:.0f} | {m['master_rss']:.0f} | {m['pss']:.0f} |")
    if not args.skip_jobs:
        background_jobs(databases)


def background_jobs(databases: list[tuple[str, str]]) -> None:
    """The clock's two big jobs, in the same run: the digest over 1,000 applications and
    the reminder pass over 100,000 pieces of evidence, each in a fresh database."""
    from bench import digest_bench, reminders_bench

    print()
    print("| job | database | time | SQL statements |")
    print("|---|---|---|---|")
    for label, url in databases:
        url = url if not url.startswith("sqlite") else f"sqlite:///{tempfile.mkdtemp()}/jobs.db"
        for size, seconds, queries, messages in digest_bench.run(url):
            print(f"| digest, {size} applications ({messages} Slack messages), best of 5 | {label} | "
                  f"{seconds:.2f} s | {queries} |")
        url = url if not url.startswith("sqlite") else f"sqlite:///{tempfile.mkdtemp()}/jobs.db"
        rows, passes = reminders_bench.run(url)
        for name, seconds, statements, actions in passes:
            print(f"| reminder pass over {rows:,} evidence rows — {name} ({actions} sent) | {label} | "
                  f"{seconds:.2f} s | {statements} |")


def _targets_file(targets: list[tuple[int, str]]) -> str:
    path = Path(tempfile.mkdtemp()) / "targets.json"
    path.write_text(json.dumps(targets))
    return str(path)


if __name__ == "__main__":
    import urllib.parse  # used by the driver process

    main()
