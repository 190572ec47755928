"""What the bot says in Slack, rendered from ``templates/`` in Slack's mrkdwn style."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.render import render
from flows.application import ApplicationState
from flows.checklist import get_checklist
from flows.drills import DrillPlan
from flows.evidence import local_today
from flows.walk import Message, status_message


def slack_text(macro: str, language: str, **params) -> str:
    """A text of the Slack walk (``templates/slack/walk.j2``)."""
    return render("slack/walk.j2", macro, language, style="slack", **params)


def say_messages(messages: list[Message], language: str) -> str:
    """The engine's messages, as one Slack text."""
    return "\n\n".join(render("walk.j2", m.name, language, style="slack", **m.params) for m in messages)


def status_text(state: ApplicationState, now: datetime, plans: Mapping[str, DrillPlan]) -> str:
    checklist = get_checklist(*state.release_key)
    today = local_today(now, state.timezone)
    message = status_message(checklist, state, today, checklist.item(state.cursor) if state.cursor else None, plans)
    return render("walk.j2", message.name, state.language, style="slack", **message.params)


def walk_done_text(state: ApplicationState, now: datetime, plans: Mapping[str, DrillPlan]) -> str:
    """Every applicable item has been through the walk: say so, and what is left."""
    return slack_text("walk_done", state.language) + "\n\n" + status_text(state, now, plans)
