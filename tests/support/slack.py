"""Test support for Slack: a stand-in Web API that records calls, the real web app on a
real socket, and requests signed the way Slack signs them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import text
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application

from bot.config import SlackSettings
from bot.slack.manifest import bot_scopes, manifest
from storage import walks

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token-0000"
TEAM = "T0TEAM"


# What the stand-in grants: exactly the manifest's bot scopes, as an installed app gets.
MANIFEST = manifest()
GRANTED = frozenset(bot_scopes())
SHOULD_ESCAPE = MANIFEST["features"]["slash_commands"][0]["should_escape"]
# The Web API methods the bot may call and the scope each needs (None: no scope);
# ``CHANNEL`` methods need the scope of the channel's kind, e.g. channels:read or im:history.
CHANNEL = object()
METHOD_SCOPES = {
    "auth.test": None, "apps.connections.open": None, "oauth.v2.access": None,
    "chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write", "conversations.join": "channels:join", "users.info": "users:read",
    "conversations.members": (CHANNEL, "read"), "conversations.info": (CHANNEL, "read"),
    "conversations.history": (CHANNEL, "history"),
    "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
    "views.open": None, "views.publish": None, "views.update": None,
}
SCOPE_PREFIX = {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}
# The people of the stand-in's workspace, by the name typed after @.
USERS = {"alice": "UALICE", "bob": "UBOB", "carol": "UCAROL", "mallory": "UMALLORY", "pam": "UPAM", "pdm": "UPDM"}
CHANNEL_NAMES = {"team": "CTEAM", "pdm-retail": "CPDM"}
BOT_USER = "UBOT"


class SlackServer(ThreadingHTTPServer):
    # Slack takes every connection; the standard library's backlog of 5 dropped some when
    # the benchmark's clients and servers connected at once, and a dropped connection
    # waits a second or more for the kernel to try again.
    request_queue_size = 128


class FakeSlackAPI:
    """A stand-in Web API that behaves like Slack where it matters, and records every call.

    It knows each channel's kind (public ``C…``, private ``G…``, DM ``D…`` unless set in
    ``kinds``) and members, and whether the bot is in it (``outside``: channels the bot
    has not joined); it grants only the manifest's scopes; it answers with Slack's
    documented errors (``channel_not_found``, ``not_in_channel``, ``user_not_in_channel``,
    ``missing_scope``, ``exchanged_trigger_id``, ``invalid_blocks``…); and every block and
    view it receives goes through slack_sdk's models, whose ``to_dict()`` enforces Block
    Kit's limits.
    """

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.members: dict[str, list[str]] = {}
        self.kinds: dict[str, str] = {}
        self.outside: set[str] = set()
        self.timezones: dict[str, str] = {}
        self.locales: dict[str, str] = {}
        self.files: dict[str, dict] = {}
        self.delay = 0.0  # seconds each post takes, to widen race windows in fault tests
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.refusals: dict[str, list[str]] = {}
        self.lost_answers: list[str] = []
        self.uploads: dict[str, bytes] = {}  # file id → uploaded bytes
        self.used_triggers: set[str] = set()
        self.lock = threading.Lock()
        self.ts = itertools.count(1)
        self.socket_url = ""  # what apps.connections.open hands out (Socket Mode)
        # (channel, button value) → ts of the message posted with that button, for a
        # driver that presses what was actually posted (bench/web_bench.py, GET /posted).
        self.buttons: dict[tuple[str, str], str] = {}
        self.posted = threading.Condition(self.lock)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                method = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/respond/"):
                    # A message sent to a request's response_url (Bolt's respond()).
                    with api.lock:
                        api.calls.append(("response_url", json.loads(raw or b"{}")))
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                if self.path.startswith("/upload/"):
                    # The file's bytes, posted to the URL files.getUploadURLExternal gave;
                    # slack_sdk labels them form data whatever they are, so keep, don't parse.
                    with api.lock:
                        api.uploads[method] = raw
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"OK - " + str(len(raw)).encode())
                    return
                params = api.parse(raw, self.headers.get("Content-Type", ""))
                status, body, headers = api.answer(method, params)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            do_PUT = do_POST

            def do_GET(self):
                if not self.path.startswith("/posted?"):
                    self.send_error(404)
                    return
                query = urllib.parse.parse_qs(self.path.partition("?")[2])
                ts = api.wait_for_button(query["channel"][0], query["value"][0], float(query["timeout"][0]))
                self.send_response(200 if ts else 404)
                self.end_headers()
                self.wfile.write((ts or "").encode())

        self.server = SlackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.response_url = self.url.replace("/api/", "/respond/1")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def parse(raw: bytes, content_type: str) -> dict:
        if "json" in content_type:
            return json.loads(raw or b"{}")
        if "form" in content_type:
            params = dict(urllib.parse.parse_qsl(raw.decode()))
            for key in ("blocks", "view", "attachments", "metadata"):
                if key in params:
                    params[key] = json.loads(params[key])
            return params
        return {"raw": len(raw)}

    # -- the workspace ---------------------------------------------------------------

    def kind(self, channel: str) -> str:
        if channel in self.kinds:
            return self.kinds[channel]
        return {"C": "public", "G": "private", "D": "im"}.get(channel[:1], "public")

    def bot_in(self, channel: str) -> bool:
        return channel not in self.outside

    def in_channel(self, channel: str, user: str) -> bool:
        if self.kind(channel) == "im":
            return channel == "D" + user
        return user in self.members.get(channel, [])

    def channel_info(self, channel: str) -> dict:
        kind = self.kind(channel)
        return {"id": channel, "name": channel.lower(), "is_channel": kind == "public",
                "is_group": kind == "private", "is_private": kind != "public", "is_im": kind == "im",
                "is_mpim": kind == "mpim", "is_member": self.bot_in(channel)}

    # -- answering -------------------------------------------------------------------

    def answer(self, method: str, params: dict) -> tuple[int, dict, dict]:
        with self.lock:
            queued = self.failures.get(method)
            if queued:
                status, headers = queued.pop(0)
                self.calls.append((method + "!failed", params))
                return status, {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}, headers
        error = self.refusal(method, params)
        with self.lock:
            self.calls.append((method if error is None else f"{method}!{error}", params))
        if error is not None:
            return 200, {"ok": False, "error": error}, {}
        result = {"ok": True, **self.result(method, params)}
        with self.lock:
            if method in self.lost_answers:
                self.lost_answers.remove(method)
                return 500, {"ok": False, "error": "fatal_error"}, {}
        return 200, result, {}

    def refusal(self, method: str, params: dict) -> str | None:
        """Slack's documented error for this call, or None when Slack would accept it."""
        if method not in METHOD_SCOPES:
            return "unknown_method"
        with self.lock:
            if self.refusals.get(method):
                return self.refusals[method].pop(0)
        # files.completeUploadExternal names the conversation it shares the file in channel_id.
        channel = params.get("channel") or params.get("channel_id") or ""
        needed = METHOD_SCOPES[method]
        if isinstance(needed, tuple):
            needed = f"{SCOPE_PREFIX[self.kind(channel)]}:{needed[1]}"
        if needed is not None and needed not in GRANTED:
            return "missing_scope"
        if "blocks" in params and not self.valid_blocks(params["blocks"]):
            return "invalid_blocks"
        if "view" in params:
            problem = self.view_problem(params["view"])
            if problem:
                return problem
        if method in ("views.open",):
            trigger = params.get("trigger_id") or ""
            with self.lock:
                if trigger in self.used_triggers:
                    return "exchanged_trigger_id"
                self.used_triggers.add(trigger)
        if channel and method != "conversations.open":
            return self.channel_refusal(method, channel, params)
        return None

    def channel_refusal(self, method: str, channel: str, params: dict) -> str | None:
        kind, bot_in = self.kind(channel), self.bot_in(channel)
        if kind != "public" and not bot_in:
            return "channel_not_found"  # Slack does not show the bot a private conversation it is not in
        if method == "conversations.join":
            return "method_not_supported_for_channel_type" if kind != "public" else None
        if method in ("chat.postMessage", "chat.update") and not bot_in and "chat:write.public" not in GRANTED:
            return "not_in_channel"
        if method in ("conversations.history", "chat.postEphemeral") and not bot_in:
            return "not_in_channel"
        if method == "chat.postEphemeral" and not self.in_channel(channel, params.get("user", "")):
            return "user_not_in_channel"
        return None

    @staticmethod
    def valid_blocks(blocks: list[dict]) -> bool:
        parsed = Block.parse_all(blocks)
        if any(block is None for block in parsed) or len(blocks) > 50:
            return False
        try:
            for block in parsed:
                block.to_dict()  # validates every limit of the block and its elements
        except SlackObjectFormationError:
            return False
        return True

    @staticmethod
    def view_problem(view: dict) -> str | None:
        try:
            View(**view).to_dict()
        except (SlackObjectFormationError, TypeError):
            return "invalid_arguments"
        uses_files = any((block.get("element") or {}).get("type") == "file_input" for block in view.get("blocks", []))
        return "missing_scope" if uses_files and "files:read" not in GRANTED else None

    def result(self, method: str, params: dict) -> dict:
        channel = params.get("channel") or ""
        if method == "auth.test":
            return {"user_id": BOT_USER, "bot_id": "BBOT", "team_id": TEAM, "user": "bot", "team": "Test",
                    "url": "https://test.slack.com/"}
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or f"1700000000.{next(self.ts):06d}"
            params.setdefault("ts", ts)
            if self.delay:
                time.sleep(self.delay)
            if method == "chat.postMessage":
                self.remember_buttons(channel, ts, params.get("blocks") or [])
            return {"channel": channel, "ts": ts}
        if method == "conversations.history":
            return self.history(channel, params)
        if method == "conversations.members":
            return self.page(self.members.get(channel, []), "members", params)
        if method == "conversations.info":
            return {"channel": self.channel_info(channel)}
        if method == "conversations.join":
            self.outside.discard(channel)
            return {"channel": self.channel_info(channel)}
        if method == "users.info":
            user = params.get("user", "")
            name = next((typed for typed, ident in USERS.items() if ident == user), user.lower())
            found = {"id": user, "name": name, "real_name": name.title(), "tz": self.timezones.get(user, "")}
            if params.get("include_locale") in (True, "true", "1"):
                found["locale"] = self.locales.get(user, "en-US")
            return {"user": found}
        if method == "apps.connections.open":
            return {"url": self.socket_url}
        if method == "conversations.open":
            return {"channel": {"id": "D" + params.get("users", "X")}}
        if method == "files.info":
            return {"file": self.files.get(params.get("file", ""), {"id": params.get("file", "")})}
        if method == "files.getUploadURLExternal":
            return {"upload_url": self.url.replace("/api/", "/upload/F1"), "file_id": "F1"}
        if method == "files.completeUploadExternal":
            return {"files": [{"id": "F1", "title": params.get("files")}]}
        if method == "oauth.v2.access":
            return {"app_id": "A1", "authed_user": {"id": "UINSTALLER"}, "scope": ",".join(sorted(GRANTED)),
                    "token_type": "bot", "access_token": "xoxb-secret-installed-token-1234", "bot_user_id": BOT_USER,
                    "team": {"id": "T0NEW", "name": "New"}, "enterprise": None, "is_enterprise_install": False}
        return {}

    @staticmethod
    def page(items: list, key: str, params: dict) -> dict:
        """One page of ``items``, as Slack's cursor pagination gives it."""
        start = int(params.get("cursor") or 0)
        size = int(params.get("limit") or 100)
        following = start + size if start + size < len(items) else ""
        return {key: items[start:start + size], "response_metadata": {"next_cursor": str(following)}}

    def history(self, channel: str, params: dict) -> dict:
        with self.lock:
            # A thread reply is in its channel's history only when also sent to the channel
            # (reply_broadcast), as in Slack; conversations.replies lists the others.
            posted = [p for name, p in self.calls if name == "chat.postMessage" and p.get("channel") == channel
                      and (not p.get("thread_ts") or p.get("reply_broadcast") in (True, "true", "1"))]
        # Newest first, as Slack gives them. ``oldest`` is not applied: the tests move the
        # bot's clock (``--now``), while the stand-in's message timestamps do not move.
        messages = [{"type": "message", "ts": p.get("ts") or "", "text": p.get("text", ""),
                     "metadata": p.get("metadata")} for p in reversed(posted)]
        found = self.page(messages, "messages", params)
        found["has_more"] = bool(found["response_metadata"]["next_cursor"])
        return found

    def remember_buttons(self, channel: str, ts: str, blocks: list[dict]) -> None:
        with self.posted:
            for block in blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("value"):
                        self.buttons[(channel, element["value"])] = ts
            self.posted.notify_all()

    def wait_for_button(self, channel: str, value: str, timeout: float) -> str | None:
        """The ts of the message posted in ``channel`` with a button of ``value``, once it
        is posted (None after ``timeout`` seconds)."""
        with self.posted:
            self.posted.wait_for(lambda: (channel, value) in self.buttons, timeout)
            return self.buttons.get((channel, value))

    # -- for the tests -----------------------------------------------------------------

    def fail_next(self, method: str, status: int, headers: dict | None = None) -> None:
        self.failures.setdefault(method, []).append((status, headers or {}))

    def lose_next_answer(self, method: str) -> None:
        """The next call of ``method`` is carried out, but its answer is a 500, as when
        Slack posts a message and then fails to say so."""
        self.lost_answers.append(method)

    def refuse_next(self, method: str, error: str) -> None:
        """The next call of ``method`` gets ``{"ok": false, "error": error}``, as Slack answers."""
        self.refusals.setdefault(method, []).append(error)

    def sent(self, method: str) -> list[dict]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    def refused(self) -> list[tuple[str, dict]]:
        """Every call Slack would have refused, with its error: ``("method!error", params)``."""
        with self.lock:
            return [(name, params) for name, params in self.calls if "!" in name and not name.endswith("!failed")]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.sent(method)}; refused: {self.refused()}")

    def close(self) -> None:
        self.server.shutdown()


class BotServer:
    """The real tornado+Bolt web app on a loopback port, served by tornado's HTTP server
    (as gunicorn's tornado worker serves it) on an event loop in a thread of its own."""

    def __init__(self, web_app: Application):
        [listening] = bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            self.loop = IOLoop.current()
            self.loop.add_callback(ready.set)
            self.server = HTTPServer(web_app)
            self.server.add_sockets([listening])
            self.loop.start()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)

    def close(self) -> None:
        def stop() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(stop)
        self.thread.join(10)


def signed_headers(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def post(url: str, body: str, content_type: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def send_form(server: BotServer, payload: dict, **sign) -> tuple[int, str]:
    body = urllib.parse.urlencode(payload)
    return post(server.url + "/slack/events", body, "application/x-www-form-urlencoded", signed_headers(body, **sign))


def send_interaction(server: BotServer, payload: dict, **sign) -> tuple[int, str]:
    return send_form(server, {"payload": json.dumps(payload)}, **sign)


def send_event(server: BotServer, event: dict, event_id: str, retry: int | None = None,
               team: str = TEAM) -> tuple[int, str]:
    body = json.dumps({"token": "x", "team_id": team, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}]})
    headers = signed_headers(body)
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return post(server.url + "/slack/events", body, "application/json", headers)


def as_slack_sends(text: str) -> str:
    """A command's text as Slack delivers it under the manifest's ``should_escape``: with
    it, ``@alice`` arrives as ``<@UALICE|alice>`` and ``#team`` as ``<#CTEAM|team>``."""
    if not SHOULD_ESCAPE:
        return text
    text = re.sub(r"(?<![<\w])@([a-z][\w.-]*)",
                  lambda m: f"<@{USERS[m.group(1)]}|{m.group(1)}>" if m.group(1) in USERS else m.group(0), text)
    return re.sub(r"(?<![<\w])#([a-z][\w-]*)",
                  lambda m: f"<#{CHANNEL_NAMES[m.group(1)]}|{m.group(1)}>" if m.group(1) in CHANNEL_NAMES
                  else m.group(0), text)


def slash_command(text: str, user: str = "UALICE", channel: str = "CTEAM", channel_name: str = "team") -> dict:
    """``/competency TEXT`` as typed by ``user`` in ``channel``, as Slack sends it."""
    return {"token": "x", "team_id": TEAM, "team_domain": "test", "channel_id": channel, "channel_name": channel_name,
            "user_id": user, "user_name": user.lower(), "command": "/competency", "text": as_slack_sends(text),
            "api_app_id": "A1", "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": f"trigger-{uuid.uuid4().hex}"}


def block_action(action_id: str, value: str, user: str = "UALICE", channel: str = "CTEAM",
                 message_ts: str = "1700000000.000001", action_ts: str | None = None,
                 response_url: str = "https://hooks.slack.invalid/actions/1") -> dict:
    """A button press; pass the stand-in's ``response_url`` to see what the bot responds."""
    return {
        "type": "block_actions", "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM}, "api_app_id": "A1", "token": "x",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"trigger-{uuid.uuid4().hex}", "channel": {"id": channel, "name": "team"},
        "message": {"type": "message", "ts": message_ts, "text": "item", "blocks": []},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "item", "value": value, "type": "button",
                     "action_ts": action_ts or f"{time.time():.6f}", "text": {"type": "plain_text", "text": "x"}}],
    }


def view_submission(callback_id: str, values: dict, metadata: dict, user: str = "UALICE") -> dict:
    return {
        "type": "view_submission", "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM}, "api_app_id": "A1", "token": "x",
        "trigger_id": f"trigger-{uuid.uuid4().hex}",
        "view": {"id": "V1", "team_id": TEAM, "type": "modal", "callback_id": callback_id,
                 "private_metadata": json.dumps(metadata), "blocks": [], "hash": "h",
                 "title": {"type": "plain_text", "text": "x"}, "state": {"values": values}},
    }


def settings_for(api: FakeSlackAPI, **extra) -> SlackSettings:
    env = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": api.url, **extra}
    return SlackSettings.from_env("web", env)


START_VALUES = {
    "partner": {"value": {"type": "plain_text_input", "value": "Acme Retail"}},
    "categories": {"value": {"type": "checkboxes", "selected_options": [{"value": "stores"}]}},
    "delivery": {"value": {"type": "radio_buttons", "selected_option": {"value": "saas"}}},
    "language": {"value": {"type": "static_select", "selected_option": {"value": "en"}}},
    "audit_date": {"value": {"type": "datepicker", "selected_date": "2027-03-01"}},
}


def start_application(server: BotServer, slack_api: FakeSlackAPI, db) -> int:
    """/competency start, then the form submitted: the application's id."""
    status, _ = send_form(server, slash_command("start"))
    assert status == 200
    opened = slack_api.wait_for("views.open")[0]
    assert opened["view"]["callback_id"] == "start_modal"
    metadata = json.loads(opened["view"]["private_metadata"])
    status, body = send_interaction(server, view_submission("start_modal", START_VALUES, metadata))
    assert status == 200 and body == ""
    slack_api.wait_for("chat.postMessage")
    return walks.find(db, "Acme Retail", TEAM).id


def item_message_ts(db, item_id: str) -> str:
    """The ts of the message that shows an item; written just after the post returns."""
    deadline = time.monotonic() + 10
    while True:
        with db.session() as session:
            found = session.execute(text("SELECT ts FROM item_messages WHERE item_id = :item"),
                                    {"item": item_id}).scalar()
        if found or time.monotonic() > deadline:
            assert found, f"no message recorded for {item_id}"
            return found
        time.sleep(0.05)


def texts(blocks: list[dict]) -> str:
    """Every text of some Block Kit blocks, one per line."""
    found = []
    for block in blocks:
        if "text" in block and isinstance(block["text"], dict):
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                found.append(element["text"])
            elif isinstance(element.get("text"), dict):
                found.append(element["text"]["text"])
    return "\n".join(found)


def install(server: BotServer) -> None:
    """Bolt's OAuth flow as a browser goes through it: /slack/install, then the callback.
    The state cookie is Secure; a browser would send it back over https, so it is passed on."""
    with urllib.request.urlopen(server.url + "/slack/install", timeout=10) as response:
        page = response.read().decode()
        cookie = response.headers["Set-Cookie"].split(";")[0]
    state = page.split("state=")[1].split("&")[0].split('"')[0]
    callback = urllib.request.Request(f"{server.url}/slack/oauth_redirect?code=abc&state={state}",
                                      headers={"Cookie": cookie})
    with urllib.request.urlopen(callback, timeout=10) as response:
        assert response.status == 200
