"""The walk in Slack, after the listener's checks: the steps several listeners share
(assigning an item and telling the assignee, answering typed words in a thread or a DM,
showing what an answer changed)."""

from __future__ import annotations

import re

from slack_sdk import WebClient

from bot.slack.texts import say_messages, slack_text
from bot.slack.web_api import call, now, open_dm, post_item, update_item
from flows import walk
from flows.application import MAX_TEXT, ApplicationState
from flows.checklist import get_checklist
from storage import slack as slack_store
from storage import walks
from storage.db import Database

BARE_LINK = re.compile(r"<https?://[^>\s]+>")


def applications_of_user(db: Database, team_id: str, user: str) -> list[ApplicationState]:
    """The applications of every channel the user is a member of, in channel order."""
    channels = sorted(set(slack_store.channels_of(db, team_id, user)))
    return [state for channel in channels for state in walks.in_channel(db, team_id, channel)]


def tell_assignee(db: Database, client: WebClient, team_id: str, outcome: walk.Outcome, item_id: str,
                  assignee: str, actor: str) -> None:
    """After an assignment was stored: the item goes to the assignee by DM, if it took."""
    state = outcome.state
    item = get_checklist(state.checklist_id).item(item_id)
    if item is not None and state.answer(item.id).assignee == assignee:
        post_item(db, client, team_id, open_dm(client, assignee), state, item.id,
                  intro=slack_text("assigned_dm", state.language, item=item, who=actor))


def show_answer(db: Database, client: WebClient, team_id: str, channel: str, message_ts: str | None,
                item_id: str, word: str, outcome: walk.Outcome) -> None:
    """After an answer button: the answered message shows the answer, then the next item
    (or the end of the walk) is posted."""
    state = outcome.state
    if word != "back" and message_ts:
        update_item(client, channel, message_ts, state, item_id)
    if state.finished or state.cursor is None:
        call(client, "chat_postMessage", channel=channel,
             text=say_messages([m for m in outcome.messages if m.name == "finished"], state.language))
        return
    notes = [m for m in outcome.messages if m.name not in ("item", "saved", "finished")]
    post_item(db, client, team_id, channel, state, state.cursor, intro=say_messages(notes, state.language))


def reply_in_thread(db: Database, client: WebClient, team_id: str, channel: str, thread_ts: str,
                    application_id: int, item_id: str, user: str, text: str) -> None:
    """Typed words in an item's thread apply to that item (a bare link is evidence)."""
    if len(text) > MAX_TEXT:
        outcome = walks.step(db, application_id, text, user, now())  # the engine refuses it with the limit
    else:
        outcome = walks.on_item(db, application_id, item_id, thread_line(text), user, now())
    state = outcome.state
    replies = [m for m in outcome.messages if m.name != "item"]
    call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts,
         text=say_messages(replies, state.language) or "…")
    update_item(client, channel, thread_ts, state, item_id)
    _post_next_if_moved(db, client, team_id, channel, outcome)


def direct_step(db: Database, client: WebClient, team_id: str, user: str, channel: str,
                state: ApplicationState, text: str) -> None:
    """Typed words in a DM apply to the application's current item."""
    outcome = walks.step(db, state.id, text, user, now())
    replies = [m for m in outcome.messages if m.name != "item"]
    if replies:
        call(client, "chat_postMessage", channel=channel, text=say_messages(replies, outcome.state.language))
    _post_next_if_moved(db, client, team_id, channel, outcome)


def _post_next_if_moved(db: Database, client: WebClient, team_id: str, channel: str, outcome: walk.Outcome) -> None:
    if any(m.name == "item" for m in outcome.messages) and outcome.state.cursor:
        post_item(db, client, team_id, channel, outcome.state, outcome.state.cursor)


def thread_line(text: str) -> str:
    """In an item's thread, a bare link is evidence for that item."""
    stripped = text.strip()
    if BARE_LINK.fullmatch(stripped):
        return "evidence " + stripped.strip("<>").split("|")[0]
    return stripped
