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
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.slack_support import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackAPI, signed_headers  # noqa: E402

LEVELS = (1, 8, 32)
APPLICATIONS = 64
MEMBERS = [f"UMEMBER{n}" for n in range(8)]
TIME_LIMIT = 120  # seconds per level, whatever happens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(database_url: str) -> list[tuple[int, str]]:
    """Applications bound to channels with members; returns (application id, item id) pairs."""
    from flows.application import ApplicationState
    from flows.checklist import get_checklist
    from storage import slack as slack_store
    from storage import walks
    from bench.support import fresh_database

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


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


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
                "type": "block_actions", "team": {"id": TEAM}, "user": {"id": MEMBERS[n % len(MEMBERS)], "team_id": TEAM},
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
        wait_ready(port)
        results = {}
        offset = 0
        for level in LEVELS:
            before = metrics(port).get("sql_statements_total", 0)
            result = run_level(port, level, requests, targets_file, offset)
            offset += requests
            after = metrics(port).get("sql_statements_total", 0)
            time.sleep(0.5)  # let post-acknowledgement work finish before reading the next counter
            result["sql_per_request"] = (after - before) / max(result["done"], 1) if after else None
            results[level] = result
        results["rss"] = peak_rss_mb(process.pid)
        return results
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
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
    print(f"web benchmark, {os.cpu_count()} cores, {date.today()}, {args.requests} requests per level")
    print("| server | database | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | SQL/request | bot/bare |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bare = bench_server("bare", [sys.executable, "bench/bare_app.py"], base_env, args.requests, _targets_file([(1, "P1.1")]))
    for level in LEVELS:
        r = bare[level]
        print(f"| bare Bolt | — | {level} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
              f"{r['errors']} | — | — |")
    rss = {"bare Bolt": bare["rss"]}
    for label, url in databases:
        targets_file = _targets_file(seed(url))
        env = {**base_env, "DATABASE_URL": url}
        bot = bench_server("bot", [sys.executable, "-m", "bot", "web"], env, args.requests, targets_file)
        for level in LEVELS:
            r = bot[level]
            sql = f"{r['sql_per_request']:.1f}" if r["sql_per_request"] is not None else "?"
            print(f"| bot | {label} | {level} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
                  f"{r['errors']} | {sql} | {r['rps'] / bare[level]['rps']:.2f} |")
        rss[f"bot ({label})"] = bot["rss"]
    print()
    print("| server | peak RSS (MB, gunicorn master + worker) |")
    print("|---|---|")
    for name, value in rss.items():
        print(f"| {name} | {value:.0f} |")
    api.close()


def _targets_file(targets: list[tuple[int, str]]) -> str:
    path = Path(tempfile.mkdtemp()) / "targets.json"
    path.write_text(json.dumps(targets))
    return str(path)


if __name__ == "__main__":
    import urllib.parse  # noqa: F401 - used by the driver process

    main()
