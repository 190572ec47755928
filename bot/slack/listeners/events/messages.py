"""Typed words: replies in an item's thread (for that item) and DMs with the bot (for
the user's application; with several, the bot asks which one)."""

from __future__ import annotations

import json

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.middleware import members_only, of_item_thread, once_per_event
from bot.slack.texts import slack_text
from bot.slack.walk import applications_of_user, direct_step, reply_in_thread
from bot.slack.web_api import call
from flows.application import DEFAULT_LANGUAGE
from storage.db import Database

CHOICES = 25  # "which application?" buttons in one message
PENDING_TEXT = 1900  # what a button value keeps of the typed text (Slack allows 2,000)


def register(app: App) -> None:
    app.event("message", matchers=[is_typed, in_thread],
              middleware=[once_per_event, members_only(of_item_thread)])(reply_to_item)
    app.event("message", matchers=[is_typed, in_direct_message], middleware=[once_per_event])(reply_to_dm)
    # Slack sends every message of every channel the bot is in; the rest are not for it.
    app.event("message")(ignore_message)


def is_typed(event: dict) -> bool:
    """Typed by a person: not an edit, a join notice, a file share, nor a bot's message."""
    return not event.get("subtype") and not event.get("bot_id")


def in_thread(event: dict) -> bool:
    return event.get("channel_type") != "im" and bool(event.get("thread_ts")) and event["thread_ts"] != event.get("ts")


def in_direct_message(event: dict) -> bool:
    return event.get("channel_type") == "im"


def reply_to_item(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    target = context["item_message"]
    reply_in_thread(db, client, context.team_id, event["channel"], event["thread_ts"], target.application_id,
                    target.item_id, context.user_id, event.get("text") or "")


def reply_to_dm(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    channel, text = event["channel"], event.get("text") or ""
    candidates = applications_of_user(db, context.team_id, context.user_id)
    if not candidates:
        call(client, "chat_postMessage", channel=channel, text=slack_text("no_dm_application", DEFAULT_LANGUAGE))
        return
    if len(candidates) == 1:
        direct_step(db, client, context.team_id, context.user_id, channel, candidates[0], text)
        return
    buttons = [{"type": "button", "action_id": f"dm_pick_{state.id}", "text": blocks.plain(state.partner),
                "value": json.dumps({"a": state.id, "t": text[:PENDING_TEXT]})} for state in candidates[:CHOICES]]
    call(client, "chat_postMessage", channel=channel, text=slack_text("which_application", DEFAULT_LANGUAGE),
         blocks=[blocks.section(slack_text("which_application", candidates[0].language)),
                 {"type": "actions", "elements": buttons}])


def ignore_message() -> None:
    """Other messages: nothing to do (Bolt has acknowledged the event)."""
