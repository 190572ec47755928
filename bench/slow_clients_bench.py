"""Benchmark: signed requests while slow clients hold connections open.

    .venv/bin/python bench/slow_clients_bench.py [--slow 0,10,100] [--requests 50] [--database-url URL]

Starts `python -m bot web` exactly as the Procfile does, on SQLite (or the database at
``--database-url``), pointed at a local stand-in Web API. For each number of slow clients
it opens that many connections that send the headers of a signed-looking POST announcing
a 1,000-byte body, then nothing; while they stay open it sends ``--requests`` signed
slash commands (`/competency help`), one after another, and measures how long each takes
to be acknowledged (a 10-second client timeout counts as an error). Prints the latency
percentiles per number of slow clients.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import header  # noqa: E402
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlackAPI, signed_headers, slash_command  # noqa: E402
from tests.support.web import WebProcess  # noqa: E402

CLIENT_TIMEOUT = 10  # seconds a signed request may take before it counts as an error
STALL = (b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         b"X-Slack-Request-Timestamp: 0\r\nX-Slack-Signature: v0=0\r\nContent-Length: 1000\r\n\r\n")


def stall(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that announce a body and never send it."""
    held = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(STALL)
        held.append(connection)
    return held


def signed_command(url: str) -> tuple[float, bool]:
    """One signed `/competency help`: seconds until it is acknowledged, and whether it was (200)."""
    body = urllib.parse.urlencode(slash_command("help"))
    request = urllib.request.Request(url + "/slack/events", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError):
        ok = False
    return time.perf_counter() - started, ok


def measure(url: str, port: int, slow: int, requests: int) -> dict:
    held = stall(port, slow)
    try:
        time.sleep(0.5)  # let the server take the stalled connections before measuring
        results = [signed_command(url) for _ in range(requests)]
    finally:
        for connection in held:
            connection.close()
    times = sorted(seconds * 1000 for seconds, ok in results if ok)
    errors = sum(not ok for _, ok in results)

    def percentile(p: float) -> float:
        return times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")

    return {"slow": slow, "p50": statistics.median(times) if times else float("nan"), "p95": percentile(0.95),
            "max": times[-1] if times else float("nan"), "errors": errors, "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", default="0,10,100", help="numbers of slow clients, comma-separated")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    args = parser.parse_args()
    api = FakeSlackAPI()
    env = {**os.environ, "DATABASE_URL": args.database_url, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": api.url, "LOG_LEVEL": "WARNING"}
    print(header(f"slow clients benchmark, {args.requests} signed requests per row"))
    print("| slow clients | signed requests | acknowledged | p50 ms | p95 ms | max ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with WebProcess(env) as web:
        for slow in (int(n) for n in args.slow.split(",")):
            r = measure(web.url, web.port, slow, args.requests)
            print(f"| {r['slow']} | {r['requests']} | {r['requests'] - r['errors']} | {r['p50']:.1f} | "
                  f"{r['p95']:.1f} | {r['max']:.1f} |", flush=True)
    api.close()


if __name__ == "__main__":
    main()
