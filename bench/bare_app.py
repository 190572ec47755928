"""The yardstick: a Bolt app whose only listener acknowledges, served exactly like the
bot (Flask under the Procfile's server configuration). Run by bench/web_bench.py.

    PORT=3100 SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… python bench/bare_app.py

``bolt_web_app`` is also the shell of the other candidates (bench/lean_app.py,
bench/tutorial_app.py): one Bolt listener for every button, Flask in front, as Bolt's
Flask example has it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient

from bench.support import serve


def bolt_web_app(name: str, listener: Callable) -> Flask:
    """A Flask app serving a Bolt app whose ``listener`` takes every block action."""
    token = os.environ["SLACK_BOT_TOKEN"]
    bolt = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], token=token, token_verification_enabled=False,
               client=WebClient(token=token, base_url=os.environ["SLACK_API_URL"]))
    bolt.action(re.compile(".*"))(listener)
    handler = SlackRequestHandler(bolt)
    web = Flask(name)

    @web.post("/slack/events")
    def events():
        return handler.handle(request)

    @web.get("/healthz")
    def healthz():  # what the benchmark waits for, as it does for the bot
        return {"status": "ok"}

    return web


def only_ack(ack) -> None:
    ack()


if __name__ == "__main__":
    serve(bolt_web_app("bare", only_ack), os.environ["PORT"])
