"""Operations of the web process: request log, body limit, metrics, health."""

from __future__ import annotations

import json
import logging
import time

import pytest

from bot.config import SlackSettings
from bot.slack.server import create_web_app
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    BotServer,
    FakeSlackAPI,
    post,
    send_form,
    signed_headers,
    slash_command,
)
from tests.support.web import web_app_in_a_fresh_process


@pytest.fixture
def served(db):
    api = FakeSlackAPI()
    settings = SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                              "SLACK_API_URL": api.url})
    server = BotServer(create_web_app(settings, db))
    yield server
    server.close()
    api.close()


def test_one_log_line_per_request_without_the_body(served, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.server")
    status, _ = send_form(served, slash_command("status secret-user-text", user="UCAROL"))
    assert status == 200
    [line] = logged(caplog, "/slack/events")
    assert line["team"] == "T0TEAM" and line["user"] == "UCAROL" and line["action"] == "command:/competency status"
    assert line["status"] == 200 and line["outcome"] == "ok" and line["latency_ms"] >= 0 and line["request_id"]
    assert "secret-user-text" not in caplog.text


def logged(caplog, path: str, wait: float = 5.0) -> list[dict]:
    """The request log's lines for ``path``, once there are any: tornado writes a request's
    line just after its response, so the client can read the response first."""
    deadline = time.monotonic() + wait
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records
                 if r.name == "bot.slack.server" and r.levelno == logging.INFO]
        found = [entry for entry in lines if entry["path"] == path]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_bodies_over_one_mebibyte_are_refused(served):
    body = "payload=" + "x" * (1024 * 1024 + 10)
    status, _ = post(served.url + "/slack/events", body, "application/x-www-form-urlencoded", signed_headers(body))
    assert status == 413


def test_missing_signature_headers_are_refused(served):
    status, _ = post(served.url + "/slack/events", "command=%2Fcompetency", "application/x-www-form-urlencoded")
    assert status == 401


def test_metrics_count_requests_and_sql(served):
    import urllib.request

    send_form(served, slash_command("help"))
    with urllib.request.urlopen(served.url + "/metrics", timeout=5) as response:
        metrics = dict(line.split(" ") for line in response.read().decode().strip().splitlines())
    assert int(metrics["requests_total"]) >= 1 and int(metrics["sql_statements_total"]) >= 1


def test_the_master_configures_the_orm_and_closes_its_connections_before_forking(tmp_path):
    # A fresh process, as the master starts: what a worker's first request would build (the
    # ORM's mappers) is built before the fork, where the workers share it; no connection
    # is left open to be inherited.
    found = web_app_in_a_fresh_process(tmp_path, (
        "from sqlalchemy import inspect\n"
        "from storage.models import Application\n"
        "from bot.slack.server import warm_up\n"
        "built = inspect(Application).configured\n"
        "warm_up(db)\n"
        "print(built, inspect(Application).configured, db.engine.pool.checkedin() + db.engine.pool.checkedout())\n"))
    assert found.split() == ["False", "True", "0"]


def test_a_health_check_waiting_on_the_database_holds_a_request_thread_not_the_event_loop(served, db, monkeypatch):
    import threading
    import urllib.request

    answering, release = threading.Event(), threading.Event()
    ping = db.ping

    def slow_ping() -> None:
        answering.set()
        release.wait(10)
        ping()

    monkeypatch.setattr(db, "ping", slow_ping)
    waiting = threading.Thread(target=lambda: urllib.request.urlopen(served.url + "/healthz", timeout=15).read())
    waiting.start()
    try:
        assert answering.wait(10)
        with urllib.request.urlopen(served.url + "/metrics", timeout=5) as response:  # the loop still reads
            assert response.status == 200
        assert send_form(served, slash_command("help"))[0] == 200  # and another thread answers Slack
    finally:
        release.set()
        waiting.join(15)


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_a_monitor_may_ask_with_head(served, path):
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(served.url + path, method="HEAD"), timeout=5) as response:
        assert response.status == 200 and response.read() == b""


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/slack/install", 404),  # one workspace: no OAuth flow
    ("GET", "/slack/oauth_redirect?code=secret-code", 404),
    ("GET", "/slack/events", 405),
    ("GET", "/nowhere", 404),
])
def test_what_the_app_does_not_serve_is_refused_and_logged_without_its_query(served, caplog, method, path, status):
    import urllib.error
    import urllib.request

    caplog.set_level(logging.INFO, logger="bot.slack.server")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(served.url + path, method=method), timeout=5)
    assert refused.value.code == status
    [line] = logged(caplog, path.split("?")[0])
    assert line["status"] == status and line["outcome"] == "refused"
    assert "secret-code" not in caplog.text


def test_a_request_that_fails_is_logged_by_its_path_not_its_query(served, db, monkeypatch, caplog):
    import urllib.error
    import urllib.request

    def broken() -> None:
        raise RuntimeError("a bug")

    caplog.set_level(logging.INFO, logger="bot.slack.server")
    monkeypatch.setattr(db, "ping", broken)
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(served.url + "/healthz?code=secret-code", timeout=5)
    assert failed.value.code == 500
    [line] = logged(caplog, "/healthz")
    assert line["status"] == 500 and line["outcome"] == "refused"
    assert "GET /healthz failed" in caplog.text and "RuntimeError: a bug" in caplog.text
    assert "secret-code" not in caplog.text
