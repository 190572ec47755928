"""The sign-off buttons of an item's message and of ``/competency review``: Approve, and
Request changes (which opens the form for the reason)."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.middleware import MembersOnly, of_button
from bot.slack.sign_off import show_decision
from bot.slack.web_api import call_or_tell, now
from flows.checklist import get_checklist
from storage import walks
from storage.db import Database


def register(app: App) -> None:
    app.action("signoff_approve", middleware=[MembersOnly(of_button)])(approve)
    app.action("signoff_request_changes", middleware=[MembersOnly(of_button)])(open_changes_form)


def approve(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext, respond: Respond,
            db: Database) -> None:
    _, item_id = blocks.parse_item_value(action["value"])
    # Slack may deliver a press twice: the key makes the second one a no-op.
    key = f"action:{context.team_id}:{context.user_id}:{action['action_ts']}:{action['action_id']}:{action['value']}"
    outcome = walks.answer_from_slack(db, context["membership"], item_id, "approve", key, now())
    ack()
    if outcome is not None:
        show_decision(db, client, respond, context.team_id, pressed_on(body), item_id, outcome)


def open_changes_form(ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond,
                      context: BoltContext, db: Database) -> None:
    ack()
    application_id, item_id = blocks.parse_item_value(action["value"])
    state = walks.load(db, application_id)
    item = get_checklist(*state.release_key).item(item_id)
    channel, ts = pressed_on(body)
    metadata = {"a": application_id, "i": item_id, "c": channel, "ts": ts}
    call_or_tell(respond, state.language, client, "views_open", trigger_id=body["trigger_id"],
                 view=blocks.changes_modal(item, state, metadata))


def pressed_on(body: dict) -> tuple[str, str]:
    """(channel, ts) of the message whose button was pressed (an ephemeral list has a ts
    in its container only)."""
    container = body.get("container") or {}
    ts = (body.get("message") or {}).get("ts") or container.get("message_ts") or ""
    return (body.get("channel") or {}).get("id") or container.get("channel_id") or "", ts
