"""Sign-off in Slack after the listener's checks: showing a reviewer's decision where the
button was pressed, and the list of items waiting for sign-off."""

from __future__ import annotations

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.texts import say_messages
from bot.slack.walk import tell_about_sign_off
from bot.slack.web_api import attempt, call, now, tell, update_item
from flows import walk
from flows.application import ApplicationState
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.sign_off import waiting
from storage import slack as slack_store
from storage.db import Database


def review_list(state: ApplicationState) -> dict:
    """``/competency review`` as a message: its text and blocks."""
    items = waiting(get_checklist(*state.release_key), state, local_today(now(), state.timezone))
    review = walk.Message("review_list", {"items": [(item, state.answer(item.id)) for item in items],
                                          "reviewers": state.reviewers})
    if not state.reviewers or not items:
        return {"text": say_messages([review], state.language)}
    return {"text": say_messages([review], state.language)[:3000], "blocks": blocks.review_blocks(state, items)}


def show_decision(db: Database, client: WebClient, respond: Respond, team_id: str,
                  message: tuple[str, str], item_id: str, outcome: walk.Outcome) -> None:
    """After a decision was stored (or refused): an item's message shows it; the list it
    was pressed on is shown again without it, under what was decided; the person told by
    DM (:func:`bot.slack.walk.tell_about_sign_off`)."""
    said = say_messages([m for m in outcome.messages if m.name in ("signed_off", "sign_off_refused")],
                        outcome.state.language)
    channel, ts = message
    tell_about_sign_off(client, outcome)
    if ts and slack_store.item_message(db, team_id, channel, ts):
        update_item(client, channel, ts, outcome.state, item_id)
        tell(respond, said)
        return
    listed = review_list(outcome.state)
    shown = [blocks.section(chunk) for chunk in blocks.fold(said)] + listed.get("blocks", [
        blocks.section(chunk) for chunk in blocks.fold(listed["text"])])
    attempt("respond", lambda: respond(text=said, blocks=shown[:blocks.MESSAGE_BLOCKS], replace_original=True))


def tell_reviewer(client: WebClient, channel: str, user: str, outcome: walk.Outcome) -> None:
    """What a form's decision did, to the reviewer who submitted it (the form is closed)."""
    said = say_messages([m for m in outcome.messages if m.name == "signed_off"], outcome.state.language)
    if said:
        call(client, "chat_postEphemeral", channel=channel, user=user, text=said)
