"""The yardstick: a Bolt app whose only listener acknowledges, served exactly like the
bot (Flask under the same gunicorn configuration). Run by bench/web_bench.py.

    PORT=3100 SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… python bench/bare_app.py
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient

from bot.slack.server import GunicornServer


def bare_web_app() -> Flask:
    token = os.environ["SLACK_BOT_TOKEN"]
    bolt = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], token=token, token_verification_enabled=False,
               client=WebClient(token=token, base_url=os.environ["SLACK_API_URL"]))

    @bolt.action(re.compile(".*"))
    def only_ack(ack):
        ack()

    handler = SlackRequestHandler(bolt)
    web = Flask("bare")

    @web.post("/slack/events")
    def events():
        return handler.handle(request)

    @web.get("/healthz")
    def healthz():  # what the benchmark waits for, as it does for the bot
        return {"status": "ok"}

    return web


if __name__ == "__main__":
    GunicornServer(bare_web_app(), bind=f"127.0.0.1:{os.environ['PORT']}").run()
