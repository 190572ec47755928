"""The request-for-changes form, submitted: the reason is required; a refusal (not a
reviewer, their own item, not met) comes back in the form and nothing is stored."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.blocks import view_metadata
from bot.slack.middleware import MembersOnly, of_view
from bot.slack.sign_off import tell_reviewer
from bot.slack.texts import say_messages, slack_text
from bot.slack.walk import tell_about_sign_off
from bot.slack.web_api import now, update_item
from flows.sign_off import changes_reason
from storage import slack as slack_store
from storage import walks
from storage.db import Database


def register(app: App) -> None:
    app.view("signoff_changes_modal", middleware=[MembersOnly(of_view)])(request_changes)


def request_changes(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    metadata = view_metadata(view)
    application_id, item_id = context["application_id"], metadata["i"]
    language = context["language"]
    reason, problem = changes_reason(view["state"]["values"]["reason"]["value"].get("value") or "")
    if problem:
        ack(response_action="errors", errors={"reason": slack_text("field_error", language, code=problem)})
        return
    outcome = walks.on_item(db, application_id, item_id, f"changes {item_id} {reason}", context.user_id, now())
    refused = [m for m in outcome.messages if m.name == "sign_off_refused"]
    if refused:  # nothing was decided, so nothing changed
        ack(response_action="errors", errors={"reason": say_messages(refused, language)})
        return
    ack()
    tell_about_sign_off(client, outcome)
    if metadata.get("ts") and slack_store.item_message(db, context.team_id, metadata["c"], metadata["ts"]):
        update_item(client, metadata["c"], metadata["ts"], outcome.state, item_id)
    tell_reviewer(client, context["application_channel"], context.user_id, outcome)
