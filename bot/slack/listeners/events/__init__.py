"""Events Slack sends (Bolt acknowledges them before the listener runs)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.events import home, members, messages


def register(app: App) -> None:
    for domain in (messages, members, home):
        domain.register(app)
