"""Serving the Bolt app: Flask under gunicorn (HTTP mode), or Socket Mode."""

from __future__ import annotations

import gc
import json
import logging
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, jsonify, request
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from slack_bolt import BoltContext
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.config import SlackSettings, WebSettings
from bot.slack.app import build_app
from storage.db import Database
from storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused (413)


def slack_action(body: dict) -> str:
    """A short name for what a request asks, for the request log (never its content)."""
    kind = body.get("type") or ("command" if "command" in body else "")
    if kind == "block_actions":
        return "action:" + ",".join(a.get("action_id", "") for a in body.get("actions", []))[:80]
    if kind in ("view_submission", "view_closed"):
        return f"{kind}:{(body.get('view') or {}).get('callback_id', '')}"
    if kind == "event_callback":
        return "event:" + (body.get("event") or {}).get("type", "")
    if kind == "command":
        return f"command:{body.get('command', '')} {(body.get('text') or '').split(' ')[0][:20]}".strip()
    return kind or "unknown"


def create_web_app(settings: SlackSettings, db: Database) -> Flask:
    bolt = build_app(settings, db)

    @bolt.middleware
    def remember_who(context: BoltContext, body: dict, next_: Callable[[], None]) -> None:
        g.slack = {"team": context.team_id or "", "user": context.user_id or "", "action": slack_action(body)}
        next_()

    handler = SlackRequestHandler(bolt)
    web = Flask("competency-bot")
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    served = log_requests(web)

    def slack() -> Response:
        return handler.handle(request)

    web.add_url_rule("/slack/events", "slack_events", slack, methods=["POST"])
    web.add_url_rule("/slack/install", "slack_install", slack)
    web.add_url_rule("/slack/oauth_redirect", "slack_oauth_redirect", slack)

    @web.get("/metrics")
    def metrics() -> tuple[str, int, dict]:
        return (f"requests_total {served['requests']}\nsql_statements_total {db.statements.total}\n",
                200, {"Content-Type": "text/plain; version=0.0.4"})

    @web.get("/healthz")
    def healthz() -> Response | tuple[Response, int]:
        try:
            db.ping()
        except DatabaseUnavailable:
            return jsonify(status="database unavailable"), 503
        return jsonify(status="ok")

    return web


def log_requests(web: Flask) -> dict[str, int]:
    """One JSON line per request, without its body (bodies hold user text and tokens);
    returns the running count of requests, for /metrics."""
    served = {"requests": 0}

    @web.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]

    @web.after_request
    def log_request(response: Response) -> Response:
        served["requests"] += 1
        if not log.isEnabledFor(logging.INFO):
            return response  # the line below costs a JSON encoding per request, for nobody
        who = getattr(g, "slack", {})
        log.info(json.dumps({
            "request_id": g.get("request_id"), "method": request.method, "path": request.path,
            "team": who.get("team", ""), "user": who.get("user", ""), "action": who.get("action", ""),
            "status": response.status_code, "outcome": "ok" if response.status_code < 400 else "refused",
            "latency_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
        }, ensure_ascii=False))
        return response

    return served


def _freeze_startup_objects(_server: Arbiter, _worker: Worker) -> None:
    """Move everything built at start (the app, templates, checklist, SQLAlchemy's
    metadata) out of the garbage collector's reach before forking a worker: its full
    collections then walk only what requests create, which shortened the tail of
    acknowledgement latency, and the worker shares those pages with the master."""
    gc.freeze()


class GunicornServer(BaseApplication):
    """gunicorn with the settings of Bolt's Heroku example: one worker, ten threads."""

    def __init__(self, app: Flask, bind: str, workers: int = 1, threads: int = 10):
        self.application = app
        self.options = {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
                        "accesslog": None, "timeout": 30, "pre_fork": _freeze_startup_objects}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve_http(settings: SlackSettings, db: Database, web: WebSettings | None = None) -> None:
    web = web or WebSettings.from_env()
    GunicornServer(create_web_app(settings, db), bind=f"0.0.0.0:{web.port}", threads=web.threads).run()


def serve_socket_mode(settings: SlackSettings, db: Database) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(build_app(settings, db), settings.app_token).start()
