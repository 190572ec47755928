"""``/competency reminders 30,14,7,1,0 | default | off``."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.reminders import say
from bot.slack.web_api import now
from flows.application import ApplicationState
from flows.commands import parse_lead_days
from storage import walks
from storage.db import Database


def register(app: App) -> None:
    add_subcommand(app, "reminders", set_lead_days)


def set_lead_days(ack: Ack, context: BoltContext, db: Database, state: ApplicationState, argument: str,
                  language: str) -> None:
    days = parse_lead_days(argument)
    if days == "invalid":
        current = ", ".join(map(str, state.lead_times)) if state.lead_times is not None else "default"
        ack(say("lead_times_usage", language, current=current))
        return
    walks.set_lead_times(db, state.id, days, context.user_id, now())
    ack(say("lead_times_set", language, days=days))
