"""The Slack layer's shape: every listener a module-level function in
``bot/slack/listeners/<kind>/<domain>.py`` that reads in one screen, membership checked
in one place, and listeners that can be called on their own."""

from __future__ import annotations

import inspect
from pathlib import Path

from slack_bolt import App

from bot.slack.app import build_app
from bot.slack.listeners.commands import refuse_too_long, unknown_subcommand
from flows.application import MAX_TEXT
from tests.support.slack import slash_command

ROOT = Path(__file__).resolve().parents[3]
KINDS = {"commands", "actions", "views", "events"}
LONGEST_LISTENER = 40


def listeners(app: App) -> list:
    return [listener.ack_function for listener in app._listeners]  # Bolt keeps them in registration order


def test_every_listener_is_a_short_module_level_function_filed_by_kind(slack_api, db):
    from tests.support.slack import settings_for

    found = listeners(build_app(settings_for(slack_api), db))
    assert len(found) >= 30  # every subcommand, action, view and event
    for function in found:
        if function.__module__.startswith("slack_bolt."):
            continue  # Bolt's own (token revocation, in OAuth mode)
        where = f"{function.__module__}.{function.__qualname__}"
        package, kind = function.__module__.split(".")[:3], function.__module__.split(".")[3]
        assert package == ["bot", "slack", "listeners"] and kind in KINDS, where
        assert "<locals>" not in function.__qualname__, where  # importable, testable on its own
        assert len(inspect.getsource(function).splitlines()) <= LONGEST_LISTENER, where


def test_membership_is_checked_in_one_place():
    callers = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "bot").rglob("*.py")
                     if "slack_store.membership(" in path.read_text(encoding="utf-8"))
    assert callers == ["bot/slack/middleware.py"]


class RecordingAck:
    def __init__(self):
        self.said: list[str] = []

    def __call__(self, text: str = "", **_) -> None:
        self.said.append(text)


def test_a_listener_can_be_called_on_its_own():
    ack = RecordingAck()
    unknown_subcommand(ack, slash_command("dance"), "en")
    assert ack.said[0] == "Unknown command. Try /competency help."
    too_long = slash_command("x" * (MAX_TEXT + 1))
    refuse_too_long(ack, too_long, "en")
    assert str(MAX_TEXT) in ack.said[1].replace(",", "")
