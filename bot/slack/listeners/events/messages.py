"""Typed words: replies in an item's thread (for that item) and DMs with the bot (for
the user's application; with several, the bot asks which one)."""

from __future__ import annotations

import json

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.message_kinds import in_direct_message, in_thread, is_file_share, is_typed
from bot.slack.middleware import MembersOnly, OncePerEvent, of_item_thread
from bot.slack.texts import slack_text
from bot.slack.walk import applications_of_user, direct_step, reply_in_thread
from bot.slack.web_api import call, language_of, now
from storage import slack as slack_store
from storage.db import Database

CHOICES = 25  # "which application?" buttons in one message (Slack's limit for an actions block)


def register(app: App) -> None:
    in_item_thread = [OncePerEvent(), MembersOnly(of_item_thread)]
    app.event("message", matchers=[is_typed, in_thread], middleware=in_item_thread)(reply_to_item)
    app.event("message", matchers=[is_file_share, in_thread], middleware=in_item_thread)(file_as_evidence)
    app.event("message", matchers=[is_typed, in_direct_message], middleware=[OncePerEvent()])(reply_to_dm)
    # Slack sends every message of every channel the bot is in; the rest are not for it.
    app.event("message")(ignore_message)


def reply_to_item(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    target = context["item_message"]
    reply_in_thread(db, client, context.team_id, event["channel"], event["thread_ts"], target.application_id,
                    target.item_id, context.user_id, event.get("text") or "")


def file_as_evidence(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    """A file shared under an item's message is evidence for that item: its name and permalink."""
    target = context["item_message"]
    for shared in event.get("files") or []:
        found = shared if shared.get("permalink") else (call(client, "files_info", file=shared["id"]) or {}).get("file")
        if not found:
            continue
        evidence = f"evidence {found.get('name', '')} {found.get('permalink', '')}"
        reply_in_thread(db, client, context.team_id, event["channel"], event["thread_ts"], target.application_id,
                        target.item_id, context.user_id, evidence)


def reply_to_dm(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    dm, text = event["channel"], event.get("text") or ""
    candidates = applications_of_user(db, context.team_id, context.user_id)
    if not candidates:
        text = slack_text("no_dm_application", language_of(client, context.user_id))
        call(client, "chat_postMessage", channel=dm, text=text)
        return
    if len(candidates) == 1:
        channel, state = candidates[0]
        direct_step(db, client, context.team_id, context.user_id, dm, channel, state, text)
        return
    # The text waits on the server: a button carries only its key (values hold 2,000 characters).
    key = slack_store.keep_pending_text(db, context.team_id, context.user_id, text, now())
    language = language_of(client, context.user_id)
    buttons = [{"type": "button", "action_id": f"dm_pick_{state.id}", "text": blocks.plain(state.partner),
                "value": json.dumps({"a": state.id, "k": key})} for _, state in candidates[:CHOICES]]
    call(client, "chat_postMessage", channel=dm, text=slack_text("which_application", language),
         blocks=[blocks.section(slack_text("which_application", language)),
                 {"type": "actions", "elements": buttons}])


def ignore_message() -> None:
    """Other messages: nothing to do (Bolt has acknowledged the event)."""
