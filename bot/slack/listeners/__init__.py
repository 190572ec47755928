"""Every Slack listener, grouped by kind (Bolt's starter template): each package's
``register(app)`` registers its modules' listeners, one module per domain."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, views


def register(app: App) -> None:
    # Bolt tries listeners in the order registered, running each one's matchers until one
    # matches: button presses, most of all requests and the walk's answers first among
    # them (bot.slack.listeners.actions), meet no slash command's matchers on the way.
    actions.register(app)
    views.register(app)
    commands.register(app)
    events.register(app)
