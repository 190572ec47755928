"""Serving the Bolt app: tornado under gunicorn (HTTP mode), or Socket Mode."""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.tornado.handler import set_response, to_bolt_request
from slack_bolt.middleware import Middleware
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from tornado.httputil import HTTPServerRequest
from tornado.ioloop import IOLoop
from tornado.web import Application, HTTPError, RequestHandler

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
WHO = "request_log"  # the key of a request's Bolt context under which the request log finds who sent it
T = TypeVar("T")


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
    """Who sent the request and what it asks, for its line in the request log (kept in the
    request's context, where the handler finds it after Bolt's dispatch)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        context = req.context
        context[WHO] = {"team": context.team_id or "", "user": context.user_id or "", "action": slack_action(req.body)}
        return next()


def create_web_app(settings: SlackSettings, db: Database, threads: int = 10) -> Application:
    """The bot's tornado app: Slack's events and the OAuth routes handed to Bolt, health and
    metrics, one log line per request; all their work done in ``threads`` threads."""
    bolt = build_app(settings, db)
    bolt.use(RememberWho())
    served = {"requests": 0}
    cipher = TokenCipher(settings.token_keys) if settings.oauth else None

    def metrics() -> str:
        return f"requests_total {served['requests']}\nsql_statements_total {db.statements.total}\n"

    work = {"threads": request_threads(threads)}
    return Application([
        ("/slack/events", SlackEvents, {**work, "bolt": bolt, "verifier": SignatureVerifier(settings.signing_secret)}),
        ("/slack/(?:install|oauth_redirect)", SlackOAuth, {**work, "bolt": bolt}),
        ("/healthz", Health, {**work, "check": lambda: health(db, cipher)}),
        ("/metrics", Metrics, {"count": metrics}),
    ], log_function=lambda handler: log_request(handler, served))


def request_threads(threads: int) -> ThreadPoolExecutor:
    """The threads that handle requests (started by the first request, in the worker)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")


class InThreads(RequestHandler):
    """A handler whose work runs in the request threads, never on tornado's event loop: the
    loop goes on reading other requests (a client that announces a body and never sends it
    holds a socket, never a thread) while a thread waits on the database or Slack."""

    def initialize(self, threads: ThreadPoolExecutor) -> None:
        self.threads = threads

    async def in_thread(self, work: Callable[..., T], *args: object) -> T:
        return await IOLoop.current().run_in_executor(self.threads, work, *args)

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        # tornado's own line names the full URI (an OAuth code, for one): the path only.
        if isinstance(value, HTTPError):
            return
        log.error("%s %s failed", self.request.method, self.request.path, exc_info=(typ, value, tb))


class SlackEvents(InThreads):
    """``POST /slack/events``: Slack's signed requests, handed to Bolt."""

    def initialize(self, threads: ThreadPoolExecutor, bolt: App, verifier: SignatureVerifier) -> None:
        super().initialize(threads)
        self.bolt = bolt
        self.verifier = verifier
        self.who: dict[str, str] = {}

    async def post(self) -> None:
        if len(self.request.body) > MAX_BODY:
            self.set_status(413)
            return
        # Checked here rather than by Bolt (build_app turns Bolt's check off): Bolt parses the
        # body before it checks the signature (unsigned bytes would reach the JSON parser),
        # and a timestamp that is not a number makes its check raise instead of refusing.
        if not signed(self.verifier, self.request):
            log.warning("refused a request without a valid Slack signature")
            self.set_status(401)
            return
        try:
            request = to_bolt_request(self.request)
            response = await self.in_thread(self.bolt.dispatch, request)
        except (ValueError, RecursionError):  # signed, but its payload is not JSON Bolt can read
            log.warning("refused a signed request whose payload is not usable JSON")
            self.set_status(400)
            return
        self.who = request.context.get(WHO, {})
        set_response(self, response)


class SlackOAuth(InThreads):
    """``GET /slack/install`` and ``/slack/oauth_redirect``: Bolt's OAuth flow (many
    workspaces; without it, 404)."""

    def initialize(self, threads: ThreadPoolExecutor, bolt: App) -> None:
        super().initialize(threads)
        self.bolt = bolt

    async def get(self) -> None:
        flow = self.bolt.oauth_flow
        if flow is None:
            raise HTTPError(404)
        request = to_bolt_request(self.request)
        step = flow.handle_installation if self.request.path == flow.install_path else flow.handle_callback
        set_response(self, await self.in_thread(step, request))


class Health(InThreads):
    """``GET /healthz``: see :func:`health`."""

    def initialize(self, threads: ThreadPoolExecutor, check: Callable[[], tuple[int, dict]]) -> None:
        super().initialize(threads)
        self.check = check

    async def get(self) -> None:
        status, verdict = await self.in_thread(self.check)
        self.set_status(status)
        self.write(verdict)

    head = get  # a monitor's HEAD: the same check, the body left out (tornado drops it)


class Metrics(RequestHandler):
    """``GET /metrics``, in Prometheus's text format: two counters, read on the loop."""

    def initialize(self, count: Callable[[], str]) -> None:
        self.count = count

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4")
        self.write(self.count())

    head = get


def health(db: Database, cipher: TokenCipher | None) -> tuple[int, dict]:
    """``/healthz``, what serving needs: a database that answers and stores, and (many
    workspaces) a key that decrypts the stored tokens. 503 names the first that fails, and why."""
    try:
        db.ping()
    except DatabaseUnavailable as error:
        return 503, {"status": "database unavailable", "reason": _first_line(error)}
    try:
        slack_store.check_writes(db, now())
    except DatabaseUnavailable as error:
        return 503, {"status": "database refuses writes", "reason": _first_line(error)}
    if cipher is not None:
        try:
            check_token_key(db, cipher)
        except TokenKeyMismatch as error:
            return 503, {"status": "token key cannot decrypt stored tokens", "reason": str(error)}
    return 200, {"status": "ok"}


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


def signed(verifier: SignatureVerifier, request: HTTPServerRequest) -> bool:
    """Whether ``request`` carries Slack's signature of its body."""
    try:
        return verifier.is_valid_request(request.body, dict(request.headers))
    except ValueError:  # a timestamp that is not a number
        return False


def log_request(handler: RequestHandler, served: dict[str, int]) -> None:
    """One JSON line per request, without its body (bodies hold user text and tokens), and
    the running count of requests, for /metrics (tornado's ``log_function``)."""
    served["requests"] += 1
    if not log.isEnabledFor(logging.INFO):
        return  # the line below costs a JSON encoding per request, for nobody
    request, status = handler.request, handler.get_status()
    who = getattr(handler, "who", {})
    log.info(json.dumps({
        "request_id": request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16],
        "method": request.method, "path": request.path,
        "team": who.get("team", ""), "user": who.get("user", ""), "action": who.get("action", ""),
        "status": status, "outcome": "ok" if status < 400 else "refused",
        "latency_ms": round(request.request_time() * 1000, 1),
    }, ensure_ascii=False))


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


def warm_up(db: Database) -> None:
    """Answer one health check in the master before it forks: that configures SQLAlchemy's
    ORM mappers, opens a session and compiles the write canary's statements once, where
    every worker used to do it on its first request, each into pages of its own. The
    master's connections are closed after: a worker must never use one (see
    ``forget_the_masters_connections``), and the master itself never queries again."""
    health(db, None)
    db.engine.dispose()


class GunicornServer(BaseApplication):
    """gunicorn with ``workers`` worker processes of its tornado worker, serving the tornado
    ``app`` as it is (its handlers hand their work to threads: see :class:`InThreads`).
    The app is built once, in the master, after the schema check: the workers never race
    to migrate."""

    def __init__(self, app: Application, bind: str, workers: int = 2, db: Database | None = None):
        self.application = app

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

    def load(self) -> Application:
        return self.application


def serve_http(settings: SlackSettings, db: Database, web: WebSettings | None = None) -> None:
    web = web or WebSettings.from_env()
    app = create_web_app(settings, db, threads=web.threads)
    # What each worker would otherwise build for itself on its first requests (the
    # checklists, the templates, Babel's locale data), built once here before the fork:
    # the workers share the master's copy. See the README's "Memory of the web process".
    installed_releases()
    prepare("slack")
    warm_up(db)
    GunicornServer(app, bind=f"0.0.0.0:{web.port}", workers=web.workers, db=db).run()


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
