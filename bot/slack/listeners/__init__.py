"""Every Slack listener, grouped by kind (Bolt's starter template): each package's
``register(app)`` registers its modules' listeners, one module per domain."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, views


def register(app: App) -> None:
    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
