"""The lean candidate: an answer done as leanly as this stack allows, served like the bot.
Run by bench/web_bench.py, which compares the bot with it.

    PORT=… DATABASE_URL=postgresql://… SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… \
        python bench/lean_app.py

One psycopg transaction per answer (claim the delivery, upsert the answer, insert its
history: BEGIN and COMMIT included, five round trips), on one connection per thread; then
``ack()``, then the two Web API calls Slack's walk needs: ``chat.update`` of the answered
message and ``chat.postMessage`` of the next item. No ORM, no checks beyond the claim.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.bare_app import bolt_web_app
from bench.support import answered_message, next_item_message, press, serve, walk_items

SCHEMA = """
CREATE TABLE IF NOT EXISTS lean_deliveries (key text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS lean_answers (
    application_id integer, item_id text, status text NOT NULL, answered_by text NOT NULL,
    answered_at timestamptz NOT NULL, PRIMARY KEY (application_id, item_id));
CREATE TABLE IF NOT EXISTS lean_history (
    id bigserial PRIMARY KEY, application_id integer NOT NULL, item_id text NOT NULL, field text NOT NULL,
    old_value text, new_value text, actor text NOT NULL, at timestamptz NOT NULL);
"""
CLAIM = "INSERT INTO lean_deliveries (key) VALUES (%s) ON CONFLICT DO NOTHING RETURNING key"
# The subquery in RETURNING sees the table as it was before the statement: the old status.
UPSERT = """
INSERT INTO lean_answers VALUES (%(application)s, %(item)s, %(status)s, %(user)s, now())
ON CONFLICT (application_id, item_id) DO UPDATE
    SET status = EXCLUDED.status, answered_by = EXCLUDED.answered_by, answered_at = EXCLUDED.answered_at
RETURNING (SELECT status FROM lean_answers WHERE application_id = %(application)s AND item_id = %(item)s)
"""
HISTORY = ("INSERT INTO lean_history (application_id, item_id, field, old_value, new_value, actor, at) "
           "VALUES (%s, %s, 'status', %s, %s, %s, now())")
TABLES = ("lean_deliveries", "lean_answers", "lean_history")

URL = os.environ["DATABASE_URL"]
ITEMS = walk_items()
_local = threading.local()


def connection() -> psycopg.Connection:
    """This thread's connection (Bolt's listener threads are a fixed pool)."""
    found = getattr(_local, "connection", None)
    if found is None or found.closed:
        found = _local.connection = psycopg.connect(URL, autocommit=True)
    return found


def answer(ack, body, action, client) -> None:
    key, application, item, status, user, channel = press(body, action)
    db = connection()
    with db.transaction():
        if db.execute(CLAIM, (key,)).fetchone() is None:
            ack()  # a retry: applied already
            return
        old = db.execute(UPSERT, dict(application=application, item=item, status=status, user=user)).fetchone()[0]
        db.execute(HISTORY, (application, item, old, status, user))
    ack()
    client.chat_update(channel=channel, ts=body["message"]["ts"], **answered_message(item, status, user))
    client.chat_postMessage(channel=channel, **next_item_message(application, item, ITEMS))


if __name__ == "__main__":
    with psycopg.connect(URL, autocommit=True) as setup:  # closed before the server forks its worker
        setup.execute(SCHEMA)
    serve(bolt_web_app(answer), os.environ["PORT"])
