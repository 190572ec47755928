"""The yardstick: a Bolt app whose only listener acknowledges, served exactly like the
bot (tornado under the Procfile's server configuration). Run by bench/web_bench.py.

    PORT=3100 SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… python bench/bare_app.py

``bolt_web_app`` is also the shell of the other candidates (bench/lean_app.py,
bench/tutorial_app.py): one Bolt listener for every button, behind the bot's own tornado
handler of Slack's requests (bot/slack/server.py), its work done in the bot's request threads.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from tornado.web import Application

from bench.support import serve
from bot.config import WebSettings
from bot.slack.server import Health, SlackEvents, request_threads


def bolt_web_app(listener: Callable) -> Application:
    """A tornado app serving a Bolt app whose ``listener`` takes every block action."""
    token = os.environ["SLACK_BOT_TOKEN"]
    secret = os.environ["SLACK_SIGNING_SECRET"]
    bolt = App(signing_secret=secret, token=token, token_verification_enabled=False,
               client=WebClient(token=token, base_url=os.environ["SLACK_API_URL"]))
    bolt.action(re.compile(".*"))(listener)
    threads = request_threads(WebSettings.from_env().threads)
    return Application([
        ("/slack/events", SlackEvents, {"threads": threads, "bolt": bolt, "verifier": SignatureVerifier(secret)}),
        # what the benchmark waits for, as it does for the bot
        ("/healthz", Health, {"threads": threads, "check": lambda: (200, {"status": "ok"})}),
    ])


def only_ack(ack) -> None:
    ack()


if __name__ == "__main__":
    serve(bolt_web_app(only_ack), os.environ["PORT"])
