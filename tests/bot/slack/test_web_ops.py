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
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "bot.slack.server"]
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
