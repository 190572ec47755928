"""Secrets at rest and in logs; key rotation; forged and replayed requests."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.config import SlackSettings
from bot.slack.server import create_web_app
from storage.installations import EncryptedInstallationStore, TokenCipher
from tests.support.cli import ROOT
from tests.support.slack import (
    SIGNING_SECRET,
    BotServer,
    install,
    send_form,
    slash_command,
)
from tests.support.wait import wait_until
from tests.support.web import WebProcess, subprocess_url

INSTALLED_TOKEN = "xoxb-secret-installed-token-1234"  # what the stand-in's oauth.v2.access returns
CLIENT_SECRET = "client-secret-do-not-log-5678"


def oauth_server(db, api, keys):
    settings = SlackSettings.from_env("web", {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEY": keys, "SLACK_API_URL": api.url})
    return BotServer(create_web_app(settings, db))


def test_secrets_never_reach_the_logs(db, slack_api, tmp_path):
    """The real web process, at DEBUG, with known secrets: install, commands, a forged
    request; then every line it logged is scanned."""
    key = Fernet.generate_key().decode()
    log_file = tmp_path / "web.log"
    env = {**os.environ, "LOG_LEVEL": "DEBUG", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": CLIENT_SECRET, "TOKEN_ENCRYPTION_KEY": key,
           "SLACK_API_URL": slack_api.url, "DATABASE_URL": subprocess_url(db)}
    with log_file.open("w") as output:
        server = WebProcess(env, stdout=output, stderr=subprocess.STDOUT)
    try:
        install(server)
        installed = {"team_id": "T0NEW"}
        send_form(server, {**slash_command("help"), **installed})
        send_form(server, {**slash_command("status <@U1> xoxb-pasted-by-a-user-99"), **installed})
        send_form(server, {**slash_command("help"), **installed}, secret="forged")
        # The last request is handled once its refusal and its access line (status 401) are logged.
        wait_until(lambda: "without a valid Slack signature" in log_file.read_text()
                   and '"status": 401' in log_file.read_text(), "the forged request was not logged")
    finally:
        server.stop()
    logged = log_file.read_text()
    assert "GET /slack/install" in logged or "/slack/install" in logged  # the scan saw real lines
    assert "without a valid Slack signature" in logged
    for secret in (INSTALLED_TOKEN, CLIENT_SECRET, SIGNING_SECRET, key, "xoxb-pasted-by-a-user-99",
                   "team_domain=test"):
        assert secret not in logged, secret


def test_tokens_are_encrypted_and_the_key_can_be_rotated(db, slack_api):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    server = oauth_server(db, slack_api, old_key)
    try:
        install(server)
    finally:
        server.close()
    with db.engine.connect() as connection:
        dump = " ".join(str(v) for row in connection.execute(text("SELECT * FROM slack_installations")) for v in row)
        dump += " ".join(str(v) for row in connection.execute(text("SELECT * FROM slack_bots")) for v in row)
    assert INSTALLED_TOKEN not in dump and "enc:" in dump

    env = {**os.environ, "DATABASE_URL": subprocess_url(db),
           "TOKEN_ENCRYPTION_KEY": f"{new_key},{old_key}"}
    run = subprocess.run([sys.executable, "-m", "bot", "tokens", "rotate"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "re-encrypted the tokens of 2 stored installation row(s)" in run.stdout
    found = EncryptedInstallationStore("111.222", db, TokenCipher(new_key)).find_installation(
        enterprise_id=None, team_id="T0NEW")
    assert found.bot_token == INSTALLED_TOKEN
    with pytest.raises(ValueError, match="cannot be decrypted"):
        EncryptedInstallationStore("111.222", db, TokenCipher(old_key)).find_installation(
            enterprise_id=None, team_id="T0NEW")
    bad = subprocess.run([sys.executable, "-m", "bot", "tokens", "rotate"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**env, "TOKEN_ENCRYPTION_KEY": "not-a-key"})
    assert bad.returncode == 2 and "Fernet keys" in bad.stderr and "Traceback" not in bad.stderr


def test_replayed_and_stale_requests_are_refused(db, slack_api):
    settings = SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": "xoxb-1",
                                              "SLACK_API_URL": slack_api.url})
    server = BotServer(create_web_app(settings, db))
    try:
        # A captured request replayed after Slack's 5-minute window fails the timestamp check.
        status, _ = send_form(server, slash_command("help"), timestamp=int(time.time()) - 301)
        assert status == 401
        status, _ = send_form(server, slash_command("help"), timestamp=int(time.time()) + 301)
        assert status == 401
    finally:
        server.close()
