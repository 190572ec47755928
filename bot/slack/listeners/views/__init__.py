"""Forms (modals) submitted, one module per domain."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.views import case_studies, drills, sign_off, walk


def register(app: App) -> None:
    for domain in (walk, case_studies, sign_off, drills):
        domain.register(app)
