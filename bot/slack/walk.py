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
from flows.sign_off import CHANGES_REQUESTED
from storage import slack as slack_store
from storage import walks
from storage.db import Database

BARE_LINK = re.compile(r"<https?://[^>\s]+>")


def applications_of_user(db: Database, team_id: str, user: str) -> list[tuple[str, ApplicationState]]:
    """(channel, application) of every channel the user is a member of, in channel order."""
    channels = sorted(set(slack_store.channels_of(db, team_id, user)))
    return [(channel, state) for channel in channels for state in walks.in_channel(db, team_id, channel)]


def why_not_here(client: WebClient, channel: str) -> str | None:
    """Why the bot cannot serve an application in ``channel`` (a text code), or None. A
    public channel it has not joined is joined (its events reach only channels it is in)."""
    info = call(client, "conversations_info", channel=channel)
    if info is None:
        return "invite_me"  # a private channel or a DM between people: the bot cannot see it
    found = info.get("channel") or {}
    if found.get("is_im") or found.get("is_mpim"):
        return "start_in_channel"
    if found.get("is_member"):
        return None
    if found.get("is_private") or call(client, "conversations_join", channel=channel) is None:
        return "invite_me"
    return None


def assign_member(db: Database, application_id: int, item_id: str, assignee: str, actor: str,
                  language: str) -> tuple[walk.Outcome | None, str]:
    """Assign an item to a member of the application's channel: the outcome and what to
    say; someone outside the channel is refused (their presses would be), with the way
    to fix it."""
    if not slack_store.in_application_channel(db, application_id, assignee):
        return None, slack_text("assignee_not_member", language, who=assignee)
    outcome = walks.assign(db, application_id, item_id, assignee, actor, now())
    return outcome, say_messages(outcome.messages, language)


def tell_assignee(db: Database, client: WebClient, team_id: str, outcome: walk.Outcome, item_id: str,
                  assignee: str, actor: str) -> None:
    """After an assignment was stored: the item goes to the assignee by DM, if it took."""
    state = outcome.state
    item = get_checklist(*state.release_key).item(item_id)
    if item is not None and state.answer(item.id).assignee == assignee:
        post_item(db, client, team_id, open_dm(client, assignee), state, item.id,
                  intro=slack_text("assigned_dm", state.language, item=item, who=actor))


def show_answer(db: Database, client: WebClient, team_id: str, channel: str, message: tuple[str, str] | None,
                item_id: str, outcome: walk.Outcome, with_notes: bool = True) -> None:
    """After an answer button pressed on ``message`` (channel, ts): if the walk moved on,
    its next item (or its end) goes to the application's ``channel`` and the answered
    message keeps its answer without buttons; an answer on an older message only shows
    there. The next item goes first: it is what the team waits for, and each Web API call
    is a round trip to Slack; the answered message and any DMs about sign-off follow."""
    state = outcome.state
    moved = _moved(outcome)
    finished = [m for m in outcome.messages if m.name == "finished"]
    if finished:
        call(client, "chat_postMessage", channel=channel, text=say_messages(finished, state.language))
    if moved:
        notes = [m for m in outcome.messages if m.name not in ("item", "saved", "finished")] if with_notes else []
        post_item(db, client, team_id, channel, state, state.cursor, intro=say_messages(notes, state.language),
                  shown=message[1] if message else None)
    if message is not None:
        update_item(client, message[0], message[1], state, item_id, live=False if moved else None)
    tell_about_sign_off(client, outcome)


def tell_about_sign_off(client: WebClient, outcome: walk.Outcome) -> None:
    """After a stored step, by DM: a reviewer whose sign-off the step voided, and the
    person a request for changes is for (the assignee, else who answered)."""
    state = outcome.state
    for message in outcome.messages:
        review = message.params.get("review")
        if message.name == "sign_off_voided":
            call(client, "chat_postMessage", channel=open_dm(client, review.by),
                 text=slack_text("sign_off_voided_dm", state.language, item=message.params["item"],
                                 partner=state.partner))
        elif message.name == "signed_off" and review.decision == CHANGES_REQUESTED and message.params["tell"]:
            call(client, "chat_postMessage", channel=open_dm(client, message.params["tell"]),
                 text=slack_text("changes_requested_dm", state.language, item=message.params["item"], review=review,
                                 partner=state.partner))


def reply_in_thread(db: Database, client: WebClient, team_id: str, channel: str, thread_ts: str,
                    application_id: int, item_id: str, user: str, text: str) -> None:
    """Typed words in an item's thread apply to that item (a bare link is evidence); the
    reply goes to the thread."""
    if len(text) > MAX_TEXT:
        outcome = walks.step(db, application_id, text, user, now())  # the engine refuses it with the limit
    else:
        outcome = walks.on_item(db, application_id, item_id, thread_line(text), user, now())
    replies = [m for m in outcome.messages if m.name not in ("item", "finished")]
    call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts,
         text=say_messages(replies, outcome.state.language) or "…")
    show_answer(db, client, team_id, channel, (channel, thread_ts), item_id, outcome, with_notes=False)


def direct_step(db: Database, client: WebClient, team_id: str, user: str, dm: str, channel: str,
                state: ApplicationState, text: str) -> None:
    """Typed words in a DM apply to the application's current item; the replies go to the
    DM, the walk's next item to the application's ``channel``."""
    outcome = walks.step(db, state.id, text, user, now())
    replies = [m for m in outcome.messages if m.name not in ("item", "finished")]
    if replies:
        call(client, "chat_postMessage", channel=dm, text=say_messages(replies, outcome.state.language))
    show_answer(db, client, team_id, channel, None, state.cursor or "", outcome, with_notes=False)


def _moved(outcome: walk.Outcome) -> bool:
    """Did this step move the walk to another item (to be posted)?"""
    return any(m.name == "item" for m in outcome.messages) and outcome.state.cursor is not None


def thread_line(text: str) -> str:
    """In an item's thread, a bare link is evidence for that item."""
    stripped = text.strip()
    if BARE_LINK.fullmatch(stripped):
        return "evidence " + stripped.strip("<>").split("|")[0]
    return stripped
