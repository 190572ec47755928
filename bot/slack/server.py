"""Serving the Bolt app: Flask under gunicorn (HTTP mode), or Socket Mode."""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, Response, g, jsonify, request
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.middleware import Middleware
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from tornado.httputil import HTTPServerRequest
from tornado.wsgi import WSGIContainer

from bot.config import ConfigError, SlackSettings, WebSettings
from bot.render import prepare, render
from bot.slack.app import build_app
from bot.slack.web_api import now
from flows.checklist import installed_releases
from storage import slack as slack_store
from storage.db import Database
from storage.errors import DatabaseUnavailable, TokenKeyMismatch
from storage.installations import TokenCipher, check_token_key

log = logging.getLogger(__name__)
# tornado's own line per request would log the full URI (an OAuth code, for one); the
# request log below writes one line per request without it.
logging.getLogger("tornado.access").disabled = True


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


class RememberWho(Middleware):
    """Who sent the request and what it asks, for its line in the request log."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        context = req.context
        g.slack = {"team": context.team_id or "", "user": context.user_id or "", "action": slack_action(req.body)}
        return next()


def create_web_app(settings: SlackSettings, db: Database) -> Flask:
    bolt = build_app(settings, db)
    bolt.use(RememberWho())
    handler = SlackRequestHandler(bolt)
    web = Flask("competency-bot")
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    served = log_requests(web)

    verifier = SignatureVerifier(settings.signing_secret)

    def events() -> Response:
        # Checked here as well as by Bolt, because Bolt parses the body before it checks the
        # signature (unsigned bytes would reach the JSON parser) and a timestamp that is
        # not a number makes the check raise instead of refusing.
        if not signed(verifier):
            log.warning("refused a request without a valid Slack signature")
            return Response(status=401)
        try:
            return handler.handle(request)
        except (ValueError, RecursionError):  # signed, but its payload is not JSON Bolt can read
            log.warning("refused a signed request whose payload is not usable JSON")
            return Response(status=400)

    def oauth() -> Response:
        return handler.handle(request)

    web.add_url_rule("/slack/events", "slack_events", events, methods=["POST"])
    web.add_url_rule("/slack/install", "slack_install", oauth)
    web.add_url_rule("/slack/oauth_redirect", "slack_oauth_redirect", oauth)

    @web.get("/metrics")
    def metrics() -> tuple[str, int, dict]:
        return (f"requests_total {served['requests']}\nsql_statements_total {db.statements.total}\n",
                200, {"Content-Type": "text/plain; version=0.0.4"})

    cipher = TokenCipher(settings.token_keys) if settings.oauth else None
    web.add_url_rule("/healthz", "healthz", lambda: health(db, cipher))
    return web


def health(db: Database, cipher: TokenCipher | None) -> Response | tuple[Response, int]:
    """``/healthz``, what serving needs: a database that answers and stores, and (many
    workspaces) a key that decrypts the stored tokens. 503 names the first that fails, and why."""
    try:
        db.ping()
    except DatabaseUnavailable as error:
        return jsonify(status="database unavailable", reason=_first_line(error)), 503
    try:
        slack_store.check_writes(db, now())
    except DatabaseUnavailable as error:
        return jsonify(status="database refuses writes", reason=_first_line(error)), 503
    if cipher is not None:
        try:
            check_token_key(db, cipher)
        except TokenKeyMismatch as error:
            return jsonify(status="token key cannot decrypt stored tokens", reason=str(error)), 503
    return jsonify(status="ok")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


def signed(verifier: SignatureVerifier) -> bool:
    """Whether the current request carries Slack's signature of its body (read here, so a
    body over the limit is refused with 413 first)."""
    try:
        return verifier.is_valid_request(request.get_data(), dict(request.headers))
    except ValueError:  # a timestamp that is not a number
        return False


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
    acknowledgement latency, and the worker shares those pages with the master. The
    garbage start-up left is collected first, and the heap memory it held handed back
    (about 3 MB of the master's, which every worker would otherwise share)."""
    gc.collect()
    release_free_heap()
    gc.freeze()


def release_free_heap() -> None:
    """Return the free pages of glibc's heaps to the kernel (``malloc_trim``); glibc keeps
    what a process frees for its next allocations. Nothing happens under another C library."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except AttributeError:  # not glibc (musl, macOS)
        return
    trim(0)


def warm_up(app: Flask, db: Database) -> None:
    """Answer one health check in the master before it forks: that configures SQLAlchemy's
    ORM mappers, opens a session and compiles the write canary's statements once, where
    every worker used to do it on its first request, each into pages of its own. The
    master's connections are closed after: a worker must never use one (see
    ``forget_the_masters_connections``), and the master itself never queries again."""
    with app.app_context():
        health(db, None)
    db.engine.dispose()


class WholeRequests(WSGIContainer):
    """The Flask app behind tornado: tornado reads each request, body and all, on its
    event loop, and only a complete request takes one of ``threads`` threads. A client
    that announces a body and never sends it holds a socket, never a thread (under
    gunicorn's gthread worker ten such clients stopped every acknowledgement)."""

    def __init__(self, app: Flask, threads: int):
        super().__init__(app, executor=ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request"))

    def environ(self, request: HTTPServerRequest) -> dict:
        environ = super().environ(request)
        # The body is whole and de-chunked by now: its length is known, so Flask's
        # MAX_CONTENT_LENGTH refuses a chunked body over the limit as it does any other
        # (left marked chunked, werkzeug would read it as empty).
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["CONTENT_LENGTH"] = str(len(request.body))
        return environ


class GunicornServer(BaseApplication):
    """gunicorn with ``workers`` worker processes, each reading requests with tornado and
    handling them in ``threads`` threads (ten, the number of Bolt's Heroku example). The
    app is built once, in the master, after the schema check: the workers never race to
    migrate."""

    def __init__(self, app: Flask, bind: str, workers: int = 2, threads: int = 10, db: Database | None = None):
        self.application = WholeRequests(app, threads)

        def forget_the_masters_connections(_server: Arbiter, _worker: Worker) -> None:
            # A connection opened before the fork (the schema check's) would be shared by
            # every worker: two using one socket fail ("prepared statement already
            # exists"). Each worker opens its own; the master's stay the master's.
            if db is not None:
                db.engine.dispose(close=False)

        self.options = {"bind": bind, "workers": workers, "worker_class": "tornado", "accesslog": None,
                        "timeout": 30, "pre_fork": _freeze_startup_objects,
                        "post_fork": forget_the_masters_connections}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WholeRequests:
        return self.application


def serve_http(settings: SlackSettings, db: Database, web: WebSettings | None = None) -> None:
    web = web or WebSettings.from_env()
    app = create_web_app(settings, db)
    # What each worker would otherwise build for itself on its first requests (the
    # checklists, the templates, Babel's locale data), built once here before the fork:
    # the workers share the master's copy. See the README's "Memory of the web process".
    installed_releases()
    prepare("slack")
    warm_up(app, db)
    GunicornServer(app, bind=f"0.0.0.0:{web.port}", workers=web.workers,
                   threads=web.threads, db=db).run()


def serve_socket_mode(settings: SlackSettings, db: Database) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(build_app(settings, db), settings.app_token)
    try:
        handler.connect()
    except SlackApiError as error:  # a wrong or revoked app-level token, mostly
        raise ConfigError(render("cli.j2", "socket_refused", "en", error=error.response.get("error"))) from None
    except OSError as error:  # no network, or SLACK_API_URL points nowhere
        raise ConfigError(render("cli.j2", "socket_unreachable", "en", reason=type(error).__name__)) from None
    threading.Event().wait()  # as SocketModeHandler.start: the connection lives in its own threads
