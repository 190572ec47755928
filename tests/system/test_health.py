"""/healthz says ok only when the bot can serve: on a really full disk SQLite reads but
cannot write, and with a wrong token key the stored tokens cannot be decrypted."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.slack.server import create_web_app
from bot.slack.texts import slack_text
from flows.application import DEFAULT_LANGUAGE
from storage.db import Database, upgrade
from tests.support.slack import BotServer, install, send_form, settings_for, slash_command


def health(server: BotServer) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def small_disk():
    """A 512 KiB file system of the test's own (tmpfs; mounting needs root)."""
    folder = Path(tempfile.mkdtemp(prefix="competency-disk-"))
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("mounting a small tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)
    folder.rmdir()


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:  # ENOSPC: the disk is full
        pass
    finally:
        os.close(descriptor)
    return filler


def test_healthz_fails_while_sqlite_cannot_write_on_a_full_disk(small_disk, slack_api):
    db = Database(f"sqlite:///{small_disk / 'bot.db'}")
    upgrade(db)
    server = BotServer(create_web_app(settings_for(slack_api), db))
    try:
        assert health(server) == (200, {"status": "ok"})
        filler = fill(small_disk)
        status, answer = health(server)
        assert status == 503 and answer["status"] == "database refuses writes"
        assert "full" in answer["reason"]
        filler.unlink()
        assert health(server) == (200, {"status": "ok"})
    finally:
        server.close()
        db.engine.dispose()


def test_a_wrong_token_key_is_told_logged_and_reported(db, slack_api, caplog):
    oauth = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "secret", "SLACK_BOT_TOKEN": ""}
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    installed = BotServer(create_web_app(settings_for(slack_api, TOKEN_ENCRYPTION_KEY=right, **oauth), db))
    install(installed)
    assert health(installed) == (200, {"status": "ok"})
    installed.close()
    caplog.set_level(logging.ERROR)
    server = BotServer(create_web_app(settings_for(slack_api, TOKEN_ENCRYPTION_KEY=wrong, **oauth), db))
    try:
        status, answer = health(server)
        assert status == 503 and answer["status"] == "token key cannot decrypt stored tokens"
        assert "key 1 (sha256 " in answer["reason"]
        status, _ = send_form(server, {**slash_command("help"), "team_id": "T0NEW",
                                       "response_url": slack_api.response_url})
        assert status == 200
        [told] = [params for name, params in slack_api.calls if name == "response_url"]
        assert told["text"] == slack_text("misconfigured", DEFAULT_LANGUAGE)
    finally:
        server.close()
    [line] = [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert "key 1 (sha256 " in line and "T0NEW" in line and wrong not in line
