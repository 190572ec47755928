"""A reminder's Plan it button: the plan form, in the presser's time zone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.drills import PLAN_ACTION, plan_modal, user_zone
from bot.slack.middleware import MembersOnly, of_button
from bot.slack.web_api import call_or_tell
from flows.checklist import get_checklist
from storage import walks
from storage.db import Database


def register(app: App) -> None:
    app.action(PLAN_ACTION, middleware=[MembersOnly(of_button)])(open_plan_form)


def open_plan_form(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext, respond: Respond,
                   db: Database) -> None:
    ack()
    application_id, item_id = blocks.parse_item_value(action["value"])
    state = walks.load(db, application_id)
    item = get_checklist(*state.release_key).item(item_id)
    zone_name = user_zone(db, client, context.team_id, context.user_id, state.timezone)
    # The plan and its invite go where the reminder is: the channel's thread, or the DM.
    metadata = {"a": application_id, "i": item_id, "c": body["channel"]["id"],
                "ts": (body.get("message") or {}).get("ts", ""), "z": zone_name}
    call_or_tell(respond, state.language, client, "views_open", trigger_id=body["trigger_id"],
                 view=plan_modal(item, state, metadata, zone_name))
