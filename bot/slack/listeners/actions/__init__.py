"""Buttons and selects, one module per domain."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.actions import case_studies, drills, reminders, sign_off, walk


def register(app: App) -> None:
    for domain in (walk, case_studies, reminders, sign_off, drills):
        domain.register(app)
