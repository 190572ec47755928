"""The real web process, as it is deployed: ``python -m bot web`` on a free loopback port,
ready once ``/healthz`` answers 200."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.support.cli import ROOT
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subprocess_url(db) -> str:
    """The URL a subprocess is given for ``db`` (psycopg's driver name dropped, as an operator writes it)."""
    return db.url.replace("postgresql+psycopg://", "postgresql://")


def web_env(db, api, **extra: str) -> dict:
    """The environment of a single-workspace web process on ``db`` talking to the stand-in ``api``."""
    return {**os.environ, "DATABASE_URL": subprocess_url(db), "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": api.url, "LOG_LEVEL": "WARNING", **extra}


def wait_healthy(url: str, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    """Wait until ``url``/healthz answers 200; fail at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # refused, reset, or an HTTPError (503 while the database is down)
            pass
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the web process exited with {process.returncode} before /healthz answered")
        assert time.monotonic() < deadline, f"{url}/healthz did not answer 200 within {timeout} s"
        time.sleep(0.1)


class WebProcess:
    """``python -m bot web`` with ``env`` on a port of its own (``PORT`` is set here).

    Started and healthy when constructed; ``kill()`` then ``start()`` restarts it on the same
    port. ``stdout``/``stderr`` as for ``subprocess.Popen`` (a file to keep the log; the
    default ``stderr=PIPE`` lets ``stop()`` return what it logged). Usable as a context manager."""

    def __init__(self, env: dict, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                 timeout: float = 30):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PORT": str(self.port)}
        self.stdout, self.stderr, self.timeout = stdout, stderr, timeout
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "web"], env=self.env, cwd=ROOT,
                                        stdout=self.stdout, stderr=self.stderr, text=True)
        try:
            wait_healthy(self.url, self.process, self.timeout)
        except BaseException:
            self.stop()
            raise

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        """Terminate it; what it wrote to ``stderr`` when that is a pipe, else ''."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        return err or ""

    def __enter__(self) -> WebProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def web_app_in_a_fresh_process(tmp_path, then: str) -> str:
    """Run ``then`` in a fresh interpreter after it has done what the web master does at
    start (an SQLite database's schema ensured, the web ``app`` built on ``db``); its output."""
    script = (
        "import sys\n"
        "from storage.db import Database, ensure_schema\n"
        f"db = Database('sqlite:///{tmp_path}/fresh.db')\n"
        "ensure_schema(db)\n"
        "from bot.config import SlackSettings\n"
        "from bot.slack.server import create_web_app\n"
        "settings = SlackSettings.from_env('web', {'SLACK_SIGNING_SECRET': 's', 'SLACK_BOT_TOKEN': 'xoxb-1'})\n"
        "app = create_web_app(settings, db)\n"
        + then
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout
