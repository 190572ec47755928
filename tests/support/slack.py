"""Test support for Slack: a stand-in Web API that records calls, the real web app on a
real socket, and requests signed the way Slack signs them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import text
from werkzeug.serving import make_server

from bot.config import SlackSettings
from storage import walks

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token-0000"
TEAM = "T0TEAM"


class FakeSlackAPI:
    """Answers every Web API method with ok and records (method, params)."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.members: dict[str, list[str]] = {}
        self.timezones: dict[str, str] = {}
        self.delay = 0.0  # seconds each post takes, to widen race windows in fault tests
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.uploads: dict[str, bytes] = {}  # file id → uploaded bytes
        self.lock = threading.Lock()
        self.ts = itertools.count(1)
        self.socket_url = ""  # what apps.connections.open hands out (Socket Mode)
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
                    params = {"raw": len(raw)}
                else:
                    params = api.parse(raw, self.headers.get("Content-Type", ""))
                status, body, headers = api.answer(method, params)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.response_url = self.url.replace("/api/", "/respond/1")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def parse(raw: bytes, content_type: str) -> dict:
        if "json" in content_type:
            return json.loads(raw or b"{}")
        if "form" in content_type:
            params = dict(urllib.parse.parse_qsl(raw.decode()))
            for key in ("blocks", "view", "attachments"):
                if key in params:
                    params[key] = json.loads(params[key])
            return params
        return {"raw": len(raw)}

    def answer(self, method: str, params: dict) -> tuple[int, dict, dict]:
        with self.lock:
            queued = self.failures.get(method)
            if queued:
                status, headers = queued.pop(0)
                self.calls.append((method + "!failed", params))
                return status, {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}, headers
            self.calls.append((method, params))
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": TEAM, "user": "bot",
                         "team": "Test", "url": "https://test.slack.com/"}, {}
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or f"1700000000.{next(self.ts):06d}"
            params.setdefault("ts", ts)
            if self.delay:
                time.sleep(self.delay)
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts}, {}
        if method == "conversations.history":
            channel = params.get("channel")
            with self.lock:
                posted = [(p.get("ts"), p) for name, p in self.calls if name == "chat.postMessage"
                          and p.get("channel") == channel]
            messages = [{"type": "message", "ts": ts or "", "text": p.get("text", ""),
                         "metadata": json.loads(p["metadata"]) if isinstance(p.get("metadata"), str)
                         else p.get("metadata")} for ts, p in reversed(posted)]
            return 200, {"ok": True, "messages": messages, "has_more": False}, {}
        if method == "conversations.members":
            return 200, {"ok": True, "members": self.members.get(params.get("channel"), []),
                         "response_metadata": {"next_cursor": ""}}, {}
        if method == "users.info":
            user = params.get("user", "")
            return 200, {"ok": True, "user": {"id": user, "tz": self.timezones.get(user, "")}}, {}
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": self.socket_url}, {}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": "D" + params.get("users", "X")}}, {}
        if method == "files.getUploadURLExternal":
            return 200, {"ok": True, "upload_url": self.url.replace("/api/", "/upload/F1"), "file_id": "F1"}, {}
        if method == "files.completeUploadExternal":
            return 200, {"ok": True, "files": [{"id": "F1", "title": params.get("files")}]}, {}
        if method == "oauth.v2.access":
            return 200, {
                "ok": True, "app_id": "A1", "authed_user": {"id": "UINSTALLER"}, "scope": "commands,chat:write",
                "token_type": "bot", "access_token": "xoxb-secret-installed-token-1234", "bot_user_id": "UBOT",
                "team": {"id": "T0NEW", "name": "New"}, "enterprise": None, "is_enterprise_install": False,
            }, {}
        return 200, {"ok": True}, {}

    def fail_next(self, method: str, status: int, headers: dict | None = None) -> None:
        self.failures.setdefault(method, []).append((status, headers or {}))

    def sent(self, method: str) -> list[dict]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.sent(method)}")

    def close(self) -> None:
        self.server.shutdown()


class BotServer:
    """The real Flask+Bolt web app on a loopback port, served by werkzeug in a thread."""

    def __init__(self, flask_app):
        self.server = make_server("127.0.0.1", 0, flask_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


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


def slash_command(text: str, user: str = "UALICE", channel: str = "CTEAM") -> dict:
    return {"token": "x", "team_id": TEAM, "team_domain": "test", "channel_id": channel, "channel_name": "team",
            "user_id": user, "user_name": user.lower(), "command": "/competency", "text": text,
            "api_app_id": "A1", "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": "trigger-1"}


def block_action(action_id: str, value: str, user: str = "UALICE", channel: str = "CTEAM",
                 message_ts: str = "1700000000.000001", action_ts: str | None = None,
                 response_url: str = "https://hooks.slack.invalid/actions/1") -> dict:
    """A button press; pass the stand-in's ``response_url`` to see what the bot responds."""
    return {
        "type": "block_actions", "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM}, "api_app_id": "A1", "token": "x",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "trigger-2", "channel": {"id": channel, "name": "team"},
        "message": {"type": "message", "ts": message_ts, "text": "item", "blocks": []},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "item", "value": value, "type": "button",
                     "action_ts": action_ts or f"{time.time():.6f}", "text": {"type": "plain_text", "text": "x"}}],
    }


def view_submission(callback_id: str, values: dict, metadata: dict, user: str = "UALICE") -> dict:
    return {
        "type": "view_submission", "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM}, "api_app_id": "A1", "token": "x",
        "trigger_id": "trigger-3",
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
