"""What the benchmark scripts share."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import Database, normalise_url, upgrade


def fresh_database(url: str) -> Database:
    """An empty database at the newest schema. SQLite: the file at ``url``. PostgreSQL: a
    new database of its own on the server of ``url``, named after it with a unique suffix,
    so that benchmarks running at the same time never share one and the database named in
    ``url`` (someone's test database) is never touched; :func:`drop_database` removes it."""
    if not url.startswith("postgres"):
        db = Database(url)
        upgrade(db)
        return db
    server = make_url(normalise_url(url))
    name = f"{server.database}_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _administer(server, f'CREATE DATABASE "{name}"')
    db = Database(server.set(database=name).render_as_string(hide_password=False))
    upgrade(db)
    return db


def drop_database(db: Database) -> None:
    """Close ``db``'s connections and, on PostgreSQL, drop the database :func:`fresh_database` made."""
    db.engine.dispose()
    if db.is_sqlite:
        return
    url = make_url(db.url)
    _administer(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def _administer(server, statement: str) -> None:
    """Run a CREATE/DROP DATABASE from the server's maintenance database (it cannot run in a transaction)."""
    engine = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def plain_url(db: Database) -> str:
    """``db``'s URL as an operator writes it (no SQLAlchemy driver name), for a subprocess or psycopg."""
    return db.url.replace("postgresql+psycopg://", "postgresql://")


def machine_speed_ms() -> float:
    """Milliseconds for a fixed pure-Python loop, best of five: printed with every result,
    so that figures from a busy or slower machine can be told apart."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n
        best = min(best, time.perf_counter() - started)
    return best * 1000


def header(title: str) -> str:
    return (f"{title}: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
            f"machine speed {machine_speed_ms():.0f} ms (a fixed Python loop; lower is faster)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def walk_items() -> list[str]:
    """The items a SaaS walk posts, in order: what every candidate of bench/web_bench.py
    posts next and what its driver answers."""
    from flows.checklist import get_checklist

    return [item.id for item in get_checklist().applicable_items("saas") if not item.derived_from]


def serve(app, port: str) -> None:
    """Serve a tornado app exactly as the Procfile's ``web`` serves the bot (the same server
    class, workers and worker class; the app's handlers bring the request threads), on loopback."""
    from bot.config import WebSettings
    from bot.slack.server import GunicornServer

    GunicornServer(app, bind=f"127.0.0.1:{port}", workers=WebSettings.from_env().workers).run()


def press(body: dict, action: dict) -> tuple[str, int, str, str, str, str]:
    """What the candidates of bench/web_bench.py read from a pressed answer button: the
    delivery key (as the bot builds it), application id, item id, status, user, channel."""
    user = body["user"]["id"]
    key = f"action:{body['team']['id']}:{user}:{action['action_ts']}:{action['action_id']}:{action['value']}"
    application, item = action["value"].split("|")
    status = "met" if action["action_id"] == "walk_met" else "not_met"
    return key, int(application), item, status, user, body["channel"]["id"]


def next_item_message(application_id: int, item_id: str, items: list[str]) -> dict:
    """The candidates' post of the item after ``item_id``: its title and the answer buttons."""
    following = items[(items.index(item_id) + 1) % len(items)]
    value = f"{application_id}|{following}"
    return {"text": following, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{following}*"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "walk_met", "text": {"type": "plain_text", "text": "Met"}, "value": value},
            {"type": "button", "action_id": "walk_not_met", "text": {"type": "plain_text", "text": "Not met"},
             "value": value},
        ]},
    ]}


def answered_message(item_id: str, status: str, user: str) -> dict:
    """The candidates' update of the answered item's message: who answered what, no buttons."""
    line = f"*{item_id}*: <@{user}> answered {status}"
    return {"text": line, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]}
