"""Serving the Bolt app: Flask under gunicorn (HTTP mode), or Socket Mode."""

from __future__ import annotations

import logging
import os

from flask import Flask, jsonify, request
from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy import text

from bot.config import SlackSettings
from bot.slack.app import build_app
from storage.db import Database

log = logging.getLogger(__name__)


def create_web_app(settings: SlackSettings, db: Database) -> Flask:
    bolt = build_app(settings, db)
    handler = SlackRequestHandler(bolt)
    web = Flask("competency-bot")

    @web.post("/slack/events")
    def slack_events():
        return handler.handle(request)

    @web.get("/slack/install")
    def slack_install():
        return handler.handle(request)

    @web.get("/slack/oauth_redirect")
    def slack_oauth_redirect():
        return handler.handle(request)

    @web.get("/healthz")
    def healthz():
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means unhealthy
            return jsonify(status="database unavailable"), 503
        return jsonify(status="ok")

    return web


class GunicornServer(BaseApplication):
    """gunicorn with the settings of Bolt's Heroku example: one worker, ten threads."""

    def __init__(self, app: Flask, bind: str, workers: int = 1, threads: int = 10):
        self.application = app
        self.options = {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
                        "accesslog": None, "timeout": 30}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve_http(settings: SlackSettings, db: Database) -> None:
    port = os.environ.get("PORT", "3000")
    GunicornServer(create_web_app(settings, db), bind=f"0.0.0.0:{port}",
                   threads=int(os.environ.get("WEB_THREADS", "10"))).run()


def serve_socket_mode(settings: SlackSettings, db: Database) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(build_app(settings, db), settings.app_token).start()
