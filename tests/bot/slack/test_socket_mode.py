"""Socket Mode as Slack speaks it: ``python -m bot socket`` asks the stand-in Web API for
a WebSocket URL (``apps.connections.open``), connects to a local WebSocket server standing
in for Slack's, receives a button press in an envelope, stores the answer, acknowledges
the envelope over the socket and then updates Slack through the Web API."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from datetime import datetime, timezone

from websockets.sync.server import serve

from flows.application import MET, ApplicationState
from flows.checklist import DEFAULT_CHECKLIST
from storage import slack as slack_store
from storage import walks
from tests.support.cli import ROOT
from tests.support.slack import BOT_TOKEN, TEAM, block_action, texts

HELLO = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
         "debug_info": {"host": "applink-test", "build_number": 1, "approximate_connection_time": 18060}}


def test_socket_mode_answers_a_button_and_acknowledges_its_envelope(db, slack_api):
    now = datetime.now(timezone.utc)
    state = walks.start(db, ApplicationState(partner="Acme Retail", delivery_type="saas",
                                             checklist_id=DEFAULT_CHECKLIST, language="en"),
                        "UALICE", now, team_id=TEAM, channel_id="CTEAM")
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], now)
    item = walks.resume(db, state.id, "UALICE", now).state.cursor
    envelope = {"envelope_id": "env-1", "type": "interactive", "accepts_response_payload": False,
                "payload": block_action("walk_met", f"{state.id}|{item}")}
    received: queue.Queue = queue.Queue()
    stored_at_ack: list[str] = []

    def slack_side(connection) -> None:  # one Socket Mode connection
        connection.send(json.dumps(HELLO))
        connection.send(json.dumps(envelope))
        for message in connection:
            reply = json.loads(message)
            stored_at_ack.append(walks.load(db, state.id).answer(item).status)
            received.put(reply)

    with serve(slack_side, "127.0.0.1", 0) as socket_server:
        threading.Thread(target=socket_server.serve_forever, daemon=True).start()
        slack_api.socket_url = f"ws://127.0.0.1:{socket_server.socket.getsockname()[1]}/link/?ticket=t"
        env = {**os.environ, "DATABASE_URL": db.url, "SLACK_APP_TOKEN": "xapp-test-token",
               "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack_api.url, "LOG_LEVEL": "WARNING"}
        bot = subprocess.Popen([sys.executable, "-m", "bot", "socket"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            acknowledgement = received.get(timeout=60)
            assert acknowledgement["envelope_id"] == "env-1"
            assert stored_at_ack == [MET]  # stored before it was acknowledged
            update = slack_api.wait_for("chat.update")[0]
            assert update["channel"] == "CTEAM" and update["ts"] == "1700000000.000001"
            assert item in update["text"]
            following = slack_api.wait_for("chat.postMessage")[-1]
            next_item = walks.load(db, state.id).cursor
            assert next_item != item and next_item in texts(following["blocks"])
        finally:
            bot.terminate()
            _, errors = bot.communicate(timeout=20)
            socket_server.shutdown()
    assert "Traceback" not in errors
    assert [m for m, _ in slack_api.calls].count("apps.connections.open") >= 1
