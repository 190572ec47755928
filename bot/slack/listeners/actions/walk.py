"""An item's buttons (Met, Not met, Not applicable, Skip, Back, Add evidence) and the
"which application?" buttons of a DM."""

from __future__ import annotations

import json
import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.middleware import MembersOnly, admit, of_button, of_json_button
from bot.slack.texts import slack_text
from bot.slack.walk import direct_step, show_answer
from bot.slack.web_api import call, call_or_tell, now
from flows.application import DEFAULT_LANGUAGE
from flows.checklist import get_checklist
from storage import slack as slack_store
from storage import walks
from storage.db import Database
from storage.errors import MembershipNotConfirmed

ANSWER_ACTIONS = re.compile(r"^walk_(met|not_met|not_applicable|skip|back)$")
ACTION_WORDS = {"met": "yes", "not_met": "no", "not_applicable": "na", "skip": "skip", "back": "back"}
DM_PICK = re.compile(r"^dm_pick_\d+$")


def register(app: App) -> None:
    app.action(ANSWER_ACTIONS, middleware=[MembersOnly(of_button, presume_known=True)])(answer)
    app.action("walk_evidence", middleware=[MembersOnly(of_button)])(open_evidence_form)
    app.action(DM_PICK, middleware=[MembersOnly(of_json_button)])(apply_picked_application)


def answer(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext, respond: Respond,
           db: Database) -> None:
    _, item_id = blocks.parse_item_value(action["value"])
    word = ACTION_WORDS[ANSWER_ACTIONS.match(action["action_id"]).group(1)]
    # Slack may deliver a press twice: the key makes the second one a no-op.
    key = f"action:{context.team_id}:{context.user_id}:{action['action_ts']}:{action['action_id']}:{action['value']}"
    try:
        outcome = walks.answer_from_slack(db, context["membership"], item_id, word, key, now())
    except MembershipNotConfirmed:
        # The write did not confirm the membership presumed: checked as for any request.
        if admit(ack, body, context, db, respond, client, context["application_id"]) is not None:
            return  # refused
        outcome = walks.answer_from_slack(db, context["membership"], item_id, word, key, now())
    ack()
    if outcome is not None:
        ts = (body.get("message") or {}).get("ts")
        show_answer(db, client, context.team_id, context["application_channel"],
                    (body["channel"]["id"], ts) if ts else None, item_id, outcome)


def open_evidence_form(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond,
                       db: Database) -> None:
    ack()
    application_id, item_id = blocks.parse_item_value(action["value"])
    state = walks.load(db, application_id)
    item = get_checklist(*state.release_key).item(item_id)
    metadata = {"a": application_id, "i": item_id, "c": body["channel"]["id"],
                "ts": (body.get("message") or {}).get("ts", "")}
    call_or_tell(respond, state.language, client, "views_open", trigger_id=body["trigger_id"],
                 view=blocks.evidence_modal(item, state, metadata))


def apply_picked_application(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext,
                             db: Database) -> None:
    ack()
    text = slack_store.take_pending_text(db, json.loads(action["value"])["k"], context.team_id, context.user_id)
    dm = body["channel"]["id"]
    if text is None:  # already applied by an earlier press of one of these buttons
        call(client, "chat_postMessage", channel=dm, text=slack_text("pending_gone", DEFAULT_LANGUAGE))
        return
    state = walks.load(db, context["application_id"])
    direct_step(db, client, context.team_id, context.user_id, dm, context["application_channel"], state, text)
