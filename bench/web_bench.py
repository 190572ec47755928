"""Benchmark: answering checklist items through the bot, against the same work done leanly.

    .venv/bin/python bench/web_bench.py [--postgres URL] [--quick] [--rounds 5] [--requests 300] [--skip-jobs]

PostgreSQL is the case that matters (``--postgres`` or ``TEST_DATABASE_URL``; a database
of its own is created on that server and dropped at the end). Four candidates, each
served exactly as the Procfile serves the bot (bench/support.py ``serve``: the same
server class, workers, threads and worker class), each against a local stand-in Web API of its own:

- bare Bolt (bench/bare_app.py): acknowledges only — a reference row;
- lean (bench/lean_app.py): one psycopg transaction (claim the delivery, upsert the
  answer, insert history), ack, ``chat.update`` + ``chat.postMessage`` — the yardstick;
- tutorial (bench/tutorial_app.py): the same work as Bolt's and SQLAlchemy's tutorials do it;
- the bot: ``python -m bot web``.

A driver process sends signed ``block_actions``: each client answers, in its own channel
(application), the item its walk posts next, pressing the message that was posted (it
waits for it at the stand-in), not met on the first lap and met on the next, so every
answer changes what is stored and walks advance; one case sends each answer on a new
connection, so a walk's presses land on either worker, as Slack's do; the one-application
case (every client in one channel) is kept as a contention case. Rounds interleave the candidates
(their order rotates), ratios to the lean app are taken within a round, and the report
gives the median and range over the rounds. Then a counting stage per candidate, through
a relay that reads the PostgreSQL protocol (bench/pg_wire.py), gives statements and round
trips per answer; finally the rows stored are counted against the answers acknowledged.
``--quick``: 2 rounds of 100 requests and the background jobs at 1× only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import cpu_seconds, header, walk_items  # noqa: E402
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlackAPI, signed_headers  # noqa: E402
from tests.support.web import free_port, wait_healthy  # noqa: E402

CANDIDATES = {
    "bare Bolt (ack only)": [sys.executable, "bench/bare_app.py"],
    "lean": [sys.executable, "bench/lean_app.py"],
    "tutorial (Bolt + ORM)": [sys.executable, "bench/tutorial_app.py"],
    "the bot": [sys.executable, "-m", "bot", "web"],
}
LEAN, BOT = "lean", "the bot"
# (label, clients, whether each client has an application of its own, whether each answer
# comes on a new connection). Every round and case takes fresh applications (ids from 1),
# so no walk ends within a run: each answer is to the item its walk posts next. A client
# keeps its connection, and so its worker, unless the case says otherwise: Slack's
# requests are not pinned to a worker, and a walk's presses then land on either.
CASES = (
    ("8 clients, one application each", 8, True, False),
    ("32 clients, one application each", 32, True, False),
    ("8 clients, one application each, a new connection per answer", 8, True, True),
    ("8 clients, one application (contention)", 8, False, False),
)
MEMBERS = [f"UMEMBER{n}" for n in range(8)]
TIME_LIMIT = 120  # seconds per run, whatever happens
POST_WAIT = 5.0  # seconds a client waits for the message it is to press next
WARM_UP = 40  # answers per candidate before the rounds


def seed(db, count: int) -> None:
    """The bot's applications, each bound to its channel with members (ids 1…count)."""
    from flows.application import ApplicationState
    from storage import slack as slack_store
    from storage import walks

    now = datetime.now(timezone.utc)
    for n in range(1, count + 1):
        walks.start(db, ApplicationState(partner=f"Bench {n}", delivery_type="saas",
                                         checklist_id="aws-retail-competency", language="en"),
                    "bench", now, team_id=TEAM, channel_id=channel(n))
        slack_store.replace_members(db, TEAM, channel(n), MEMBERS, now)


def channel(application_id: int) -> str:
    return f"CBENCH{application_id}"


def server_pids(pid: int) -> list[int]:
    """The gunicorn master and its workers."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return pids


def proc_kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak memory of a server's processes while it runs: each process's own peak RSS
    (VmHWM, from the kernel), and the peak of their summed PSS (smaps_rollup), sampled
    every 0.2 s. PSS splits the pages a forked worker shares with its master between
    them, so its sum is the memory the server really holds."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_pss_kb = 0
        self.peak_rss_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pids = server_pids(self.pid)
        self.peak_pss_kb = max(self.peak_pss_kb, sum(proc_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
        for each in pids:
            self.peak_rss_kb[each] = max(self.peak_rss_kb.get(each, 0), proc_kb(f"/proc/{each}/status", "VmHWM:"))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._sample()
        self._stop.set()
        self._thread.join()
        workers = [kb for pid, kb in self.peak_rss_kb.items() if pid != self.pid]
        return {"worker_rss": max(workers, default=0) / 1024, "pss": self.peak_pss_kb / 1024}


class Server:
    """One candidate, started and healthy; run in ``cwd`` (another checkout of the project
    runs its own bot there, see bench/web_memory_bench.py)."""

    def __init__(self, command: list[str], env: dict, cwd: Path = ROOT):
        self.port = free_port()
        self.process = subprocess.Popen(command, cwd=cwd, env={**env, "PORT": str(self.port)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(f"http://127.0.0.1:{self.port}", self.process, timeout=60)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in server_pids(self.process.pid))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def drive(port: int, clients: int, requests: int, applications: list[int], positions: dict[str, int],
          api_url: str, reconnect: bool = False) -> dict:
    """Run in its own process (see main): ``clients`` connections send ``requests`` answers
    between them; client n answers in ``applications[n % len]``, always the item that
    application's walk posts next. With an application each, a client presses the message
    that was posted, as a person does: after each answer it waits (at most
    ``POST_WAIT`` seconds) for the stand-in at ``api_url`` to have the next item's message,
    and presses that message (its ts); the wait is not part of the answer's latency. No
    ``api_url``: the candidate posts nothing, and clients do not wait. ``reconnect``: each
    answer on a connection of its own (which worker takes it is the kernel's choice).
    Returns the figures and the walks' new positions."""
    import http.client

    items = walk_items()
    own = len(applications) == clients and bool(api_url)
    stand_in = urllib.parse.urlsplit(api_url)
    latencies: list[float] = []
    errors = [0]
    unposted = [0]  # presses whose message was not posted within POST_WAIT
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + TIME_LIMIT

    def next_press(application: int) -> tuple[str, str, int]:
        with lock:
            position = positions.get(str(application), 0)
            positions[str(application)] = position + 1
        lap, index = divmod(position, len(items))
        # Each lap changes every answer; not met first: a met item that needs evidence asks
        # for it, and the walk moves on only after, where not met moves on at once.
        return items[index], "walk_not_met" if lap % 2 == 0 else "walk_met", position

    def posted(application: int, item: str) -> str | None:
        """The ts of the message showing ``item`` in the application's channel, once posted."""
        connection = http.client.HTTPConnection(stand_in.hostname, stand_in.port, timeout=POST_WAIT + 5)
        try:
            query = urllib.parse.urlencode({"channel": channel(application), "value": f"{application}|{item}",
                                            "timeout": POST_WAIT})
            connection.request("GET", f"/posted?{query}")
            response = connection.getresponse()
            return response.read().decode() if response.status == 200 else None
        finally:
            connection.close()

    def client(number: int) -> None:
        application = applications[number % len(applications)]
        user = MEMBERS[number % len(MEMBERS)]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        shown = None  # the ts of the message this client presses next, once known
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            item, action_id, position = next_press(application)
            if own and position > 0:  # a fresh walk's first item was never posted
                shown = posted(application, item)
                if shown is None:
                    with lock:
                        unposted[0] += 1
            ts = shown or "1.1"
            payload = {
                "type": "block_actions", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
                "api_app_id": "A1", "token": "x", "trigger_id": "t", "channel": {"id": channel(application)},
                "container": {"type": "message", "message_ts": ts, "channel_id": channel(application)},
                "message": {"type": "message", "ts": ts, "text": "", "blocks": []},
                "actions": [{"action_id": action_id, "block_id": "b", "value": f"{application}|{item}",
                             "type": "button", "action_ts": f"{time.time():.6f}.{os.getpid()}.{n}"}],
            }
            body = "payload=" + urllib.parse.quote(json.dumps(payload))
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
            if reconnect:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"rps": len(latencies) / wall, "p50": percentile(0.50), "p99": percentile(0.99),
            "errors": errors[0], "done": len(latencies), "positions": positions, "unposted": unposted[0]}


def run(server: Server, clients: int, requests: int, applications: list[int], positions: dict[str, int],
        api: FakeSlackAPI, check: bool = False, posts: bool = True, reconnect: bool = False) -> dict:
    """One driver run against ``server``, with its CPU per answer; ``positions`` advance.
    With ``check``: whether each application's last posted item is the one its client
    answers next (``posted``: applications where it is, of ``checked``). ``posts``: the
    candidate posts items, so its clients wait for them (the bare app posts none)."""
    cpu_before = server.cpu()
    arguments = json.dumps([server.port, clients, requests, applications, positions, api.url if posts else "",
                            reconnect])
    output = subprocess.run([sys.executable, __file__, "--drive", arguments], cwd=ROOT, capture_output=True,
                            text=True, timeout=TIME_LIMIT + 60, check=True)
    result = json.loads(output.stdout)
    positions.update(result.pop("positions"))
    wait_until_quiet(api)  # the work after the acknowledgement (Web API calls) belongs to the answer
    result["cpu_ms"] = (server.cpu() - cpu_before) * 1000 / max(result["done"], 1)
    if check:
        items = walk_items()
        with api.lock:
            calls = list(api.calls)
        posted = [last_posted_item(calls, application) for application in applications]
        expected = [f"{a}|{items[positions.get(str(a), 0) % len(items)]}" for a in applications]
        result["checked"] = len(applications)
        result["posted"] = sum(p == e for p, e in zip(posted, expected, strict=True))
    return result


def wait_until_quiet(api: FakeSlackAPI, quiet: float = 0.3, limit: float = 15.0) -> None:
    """Until the stand-in has had no call for ``quiet`` seconds (at most ``limit``): the
    Web API calls that follow the last acknowledgements have arrived. A fixed pause was
    too short for two workers on a busy machine, and the check then saw an earlier post."""
    deadline = time.monotonic() + limit
    seen = -1
    while time.monotonic() < deadline:
        with api.lock:
            count = len(api.calls)
        if count == seen:
            return
        seen = count
        time.sleep(quiet)


def last_posted_item(calls: list[tuple[str, dict]], application: int) -> str | None:
    """The value of the answer buttons of the last message posted to the application's channel."""
    for name, params in reversed(calls):
        if name == "chat.postMessage" and params.get("channel") == channel(application):
            for block in params.get("blocks") or []:
                for element in block.get("elements", []):
                    if element.get("action_id") == "walk_met":
                        return element.get("value")
            return None
    return None


def stored_answers(db) -> dict[str, int]:
    """Answers stored by each candidate: its history rows of status changes."""
    from sqlalchemy import text

    with db.engine.connect() as connection:
        def count(sql: str) -> int:
            return connection.execute(text(sql)).scalar_one()
        return {LEAN: count("SELECT count(*) FROM lean_history"),
                "tutorial (Bolt + ORM)": count("SELECT count(*) FROM tutorial_history"),
                BOT: count("SELECT count(*) FROM history WHERE field = 'status'")}


def wire_counts(command: list[str], env: dict, url: str, requests: int, applications: list[int],
                positions: dict[str, int], api: FakeSlackAPI) -> dict:
    """Statements and round trips per answer of one candidate, through the counting relay."""
    from sqlalchemy.engine import make_url

    from bench.pg_wire import WireCounter, relayed_url

    target = make_url(url)
    counter = WireCounter(target.host or "127.0.0.1", target.port or 5432)
    server = Server(command, {**env, "DATABASE_URL": relayed_url(url, counter)})
    try:
        before, texts = counter.counts(), counter.texts.copy()
        result = run(server, len(applications), requests, applications, positions, api)
        statements, control, trips = (after - was for after, was in zip(counter.counts(), before, strict=True))
        texts = counter.texts - texts
    finally:
        server.stop()
        counter.close()
    done = max(result["done"], 1)
    return {"done": result["done"], "statements": statements / done, "control": control / done,
            "round_trips": trips / done, "texts": {text: n / done for text, n in texts.most_common(12)}}


def spread(values: list[float], digits: int = 0) -> str:
    return (f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"
            if len(values) > 1 else f"{values[0]:.{digits}f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="2 rounds of 100 requests; jobs at 1× only")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int, help="requests per candidate, case and round")
    parser.add_argument("--skip-jobs", action="store_true", help="skip the digest and reminder timings")
    parser.add_argument("--skip-web", action="store_true", help="only the digest and reminder timings")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(*json.loads(args.drive))))
        return
    if not args.postgres:
        parser.error("needs PostgreSQL: --postgres postgresql://user@host:port/db or TEST_DATABASE_URL")
    rounds = args.rounds or (2 if args.quick else 5)
    requests = args.requests or (100 if args.quick else 300)
    if not args.skip_web:
        web(args.postgres, rounds, requests)
    if not args.skip_jobs:
        background_jobs(args.postgres, (1,) if args.quick else (1, 10))


def web(postgres: str, rounds: int, requests: int) -> None:
    from bench.support import drop_database, fresh_database, plain_url

    # A stand-in of its own for each candidate: the candidates answer in the same channels
    # with the same button values, and a client waits for its own candidate's post, never
    # for one another candidate made in an earlier run.
    apis = {name: FakeSlackAPI() for name in CANDIDATES}
    db = fresh_database(postgres)
    ids = iter(range(1, 10**6))
    plan = [[(label, clients, [next(ids) for _ in range(clients if own else 1)], reconnect)
             for label, clients, own, reconnect in CASES]
            for _ in range(rounds)]
    counting = [next(ids) for _ in range(CASES[0][1])]  # the counting stage's, one per client
    warming = [next(ids) for _ in range(CASES[0][1])]  # a first run per candidate, not counted
    try:
        seed(db, warming[-1])
        env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
               "LOG_LEVEL": "WARNING", "DATABASE_URL": plain_url(db)}
        envs = {name: {**env, "SLACK_API_URL": apis[name].url} for name in CANDIDATES}
        print(header(f"web benchmark, PostgreSQL, {rounds} rounds of {requests} answers per candidate and case"))
        servers = {name: Server(command, envs[name]) for name, command in CANDIDATES.items()}
        memory = {name: MemorySampler(server.process.pid) for name, server in servers.items()}
        positions: dict[str, dict[str, int]] = {name: {} for name in CANDIDATES}
        results: dict[tuple[str, str], list[dict]] = {}
        names = list(CANDIDATES)
        try:
            # The first requests of a process build its caches: a run per candidate, not reported.
            warmed = {name: run(server, len(warming), WARM_UP, warming, positions[name], apis[name],
                                posts=name != names[0])["done"]
                      for name, server in servers.items()}
            for number, cases in enumerate(plan):
                for label, clients, applications, reconnect in cases:
                    order = names[number % len(names):] + names[:number % len(names)]
                    for name in order:
                        check = name != names[0] and len(applications) == clients
                        results.setdefault((label, name), []).append(
                            run(servers[name], clients, requests, applications, positions[name], apis[name], check,
                                posts=name != names[0], reconnect=reconnect))
        finally:
            peaks = {name: sampler.stop() for name, sampler in memory.items()}
            for server in servers.values():
                server.stop()
        acknowledged = {name: warmed[name] + sum(r["done"] for (_, each), runs in results.items()
                                                 if each == name for r in runs)
                        for name in CANDIDATES}
        counted = {name: wire_counts(CANDIDATES[name], envs[name], plain_url(db), requests, counting, positions[name],
                                     apis[name])
                   for name in CANDIDATES if name != names[0]}
        for name, figures in counted.items():
            acknowledged[name] += figures["done"]
        stored = stored_answers(db)
        refused = {name: len(api.refused()) for name, api in apis.items()}
    finally:
        for api in apis.values():
            api.close()
        drop_database(db)

    print()
    print("| case | app | answers/s | ÷ lean | p50 ms | p99 ms | errors | server CPU ms/answer |")
    print("|---|---|---|---|---|---|---|---|")
    for label, *_ in CASES:
        lean = results[(label, LEAN)]
        for name in CANDIDATES:
            runs = results[(label, name)]
            ratios = [r["rps"] / base["rps"] for r, base in zip(runs, lean, strict=True)]
            print(f"| {label} | {name} | {spread([r['rps'] for r in runs])} | {spread(ratios, 2)} | "
                  f"{statistics.median(r['p50'] for r in runs):.1f} | "
                  f"{statistics.median(r['p99'] for r in runs):.1f} | "
                  f"{sum(r['errors'] for r in runs)} | {spread([r['cpu_ms'] for r in runs], 1)} |")
    print()
    print("(median over the rounds, range in brackets; ÷ lean within each round; p50 and p99: medians of the rounds')")
    print()
    print("| app | peak PSS, master + worker (MB) | worker peak RSS (MB) | statements/answer "
          "| BEGIN/COMMIT/answer | round trips/answer | answers acknowledged | stored | next item posted "
          "| presses whose message never came | Web API calls Slack would refuse |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in CANDIDATES:
        m = peaks[name]
        c = counted.get(name)
        wire = (f"{c['statements']:.1f} | {c['control']:.1f} | {c['round_trips']:.1f}" if c else "— | — | —")
        saved = stored.get(name)
        check = "—" if saved is None else (f"{saved} ✓" if saved == acknowledged[name] else f"**{saved} ✗**")
        runs = [r for (_, each), rs in results.items() if each == name for r in rs if "checked" in r]
        checked, posted = sum(r["checked"] for r in runs), sum(r["posted"] for r in runs)
        walked = "—" if not checked else f"{posted} of {checked}" + (" ✓" if posted == checked else " ✗")
        never = sum(r["unposted"] for (_, each), rs in results.items() if each == name for r in rs)
        print(f"| {name} | {m['pss']:.0f} | {m['worker_rss']:.0f} | {wire} | {acknowledged[name]} | {check} "
              f"| {walked} | {never} | {refused[name]} |")
    print()
    print()
    print(f"| what {BOT} sends PostgreSQL per answer (transaction control apart) | times |")
    print("|---|---|")
    for text, times in counted[BOT]["texts"].items():
        print(f"| `{text[:110]}` | {times:.2f} |")
    print()
    print("(statements and round trips counted on the PostgreSQL wire, in a separate stage of "
          f"{requests} answers at 8 clients; stored: the history rows of status changes, one per answer; "
          "next item posted: after each run, the applications whose last posted item is the one their "
          "client answers next)")


def background_jobs(postgres: str, sizes: tuple[int, ...]) -> None:
    """The clock's two big jobs, each in a fresh database per backend: the digest over
    1,000 applications per size unit, the reminder pass over 2,000 applications and
    112,000 pieces of evidence per size unit."""
    from bench import digest_bench, reminders_bench

    databases = [("SQLite", None), ("PostgreSQL", postgres)]
    print()
    print("| job | size | database | time | SQL statements |")
    print("|---|---|---|---|---|")
    for label, url in databases:
        for size, seconds, _cpu, queries, messages in digest_bench.run(url or _sqlite(), [1000 * s for s in sizes]):
            print(f"| digest ({messages:,} Slack messages), best of 5 | {size:,} applications | {label} | "
                  f"{seconds:.2f} s | {queries} |")
    for label, url in databases:
        for size in sizes:
            rows, passes = reminders_bench.run(url or _sqlite(), 100_000 * size, 2_000 * size)
            for name, seconds, statements, actions in passes:
                print(f"| reminder pass — {name} ({actions} sent) | {rows:,} evidence rows | {label} | "
                      f"{seconds:.2f} s | {statements} |")


def _sqlite() -> str:
    return f"sqlite:///{tempfile.mkdtemp()}/jobs.db"


if __name__ == "__main__":
    main()
