"""Typed steps while the database cannot store them, on a PostgreSQL cluster of the test's
own that is really stopped: nothing typed is acknowledged and silently lost. Slack retries
what was not acknowledged; on its last try, or when a step fails after the event was
claimed, the person is told that it was not saved."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.slack.server import create_web_app
from bot.slack.texts import slack_text
from flows.application import DEFAULT_LANGUAGE
from storage import walks
from storage.db import Database, upgrade
from tests.support.postgres import PrivateCluster, binaries
from tests.support.slack import BotServer, item_message_ts, send_event, settings_for, start_application
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(binaries() is None, reason="needs PostgreSQL's initdb (/usr/lib/postgresql/*/bin)")
NOT_SAVED = slack_text("not_saved", DEFAULT_LANGUAGE)


@pytest.fixture
def cluster():
    running = PrivateCluster()
    yield running
    running.remove()


@pytest.fixture
def served(cluster, slack_api):
    db = Database(cluster.url)
    upgrade(db)
    server = BotServer(create_web_app(settings_for(slack_api), db))
    application_id = start_application(server, slack_api, db)
    yield server, db, application_id
    server.close()
    db.engine.dispose()


def thread_reply(words: str, thread_ts: str, ts: str) -> dict:
    return {"type": "message", "channel": "CTEAM", "channel_type": "channel", "user": "UALICE", "text": words,
            "ts": ts, "thread_ts": thread_ts}


def direct_message(words: str, ts: str) -> dict:
    return {"type": "message", "channel": "DUALICE", "channel_type": "im", "user": "UALICE", "text": words,
            "ts": ts}


def told(slack_api, method: str) -> list[dict]:
    return [m for m in slack_api.sent(method) if m.get("text") == NOT_SAVED]


def test_typed_steps_while_the_database_is_stopped_are_retried_or_told(cluster, served, slack_api):
    server, db, application_id = served
    item_ts = item_message_ts(db, "P1.1")
    reply, dm = thread_reply("no", item_ts, "1700000100.000001"), direct_message("note checked", "1700000101.000001")
    cluster.stop()
    # While Slack will retry, the event is not acknowledged: Slack delivers it again.
    assert send_event(server, reply, "EvReply")[0] == 503
    assert send_event(server, dm, "EvDm", retry=1)[0] == 503
    # Slack's last try: acknowledged, and the person is told where they typed.
    assert send_event(server, reply, "EvReply", retry=3)[0] == 200
    [ephemeral] = told(slack_api, "chat.postEphemeral")
    assert ephemeral["thread_ts"] == item_ts and ephemeral["user"] == "UALICE"
    assert send_event(server, dm, "EvDm", retry=3)[0] == 200
    assert [m["channel"] for m in told(slack_api, "chat.postMessage")] == ["DUALICE"]
    cluster.start()
    # Nothing was claimed while the database was down: a retry after it is back is applied.
    assert send_event(server, reply, "EvLate", retry=1)[0] == 200
    wait_until(lambda: walks.load(db, application_id).answer("P1.1").status == "not_met", "the retried reply")


def test_a_step_the_database_refuses_after_the_claim_is_told(served, slack_api):
    server, db, application_id = served
    item_ts = item_message_ts(db, "P1.1")
    with db.engine.begin() as connection:  # the database refuses the step's write as a server shutting down would
        connection.execute(text(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'shutting down' USING ERRCODE = 'admin_shutdown'; END $$ LANGUAGE plpgsql"))
        connection.execute(text("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON answers "
                                "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    assert send_event(server, thread_reply("yes", item_ts, "1700000200.000001"), "EvClaimed")[0] == 200
    [ephemeral] = wait_until(lambda: told(slack_api, "chat.postEphemeral"), "the not-saved reply")
    assert ephemeral["thread_ts"] == item_ts
    assert send_event(server, direct_message("yes", "1700000201.000001"), "EvClaimedDm")[0] == 200
    wait_until(lambda: told(slack_api, "chat.postMessage"), "the not-saved DM")
    assert walks.load(db, application_id).answer("P1.1").status != "met"
