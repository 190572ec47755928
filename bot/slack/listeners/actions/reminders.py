"""A reminder's buttons: Snooze 1 day / 1 week, and Assign to… (Record new evidence is
the item's evidence button, Edit the case study's)."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.middleware import MembersOnly, of_block, of_button
from bot.slack.reminders import say
from bot.slack.walk import assign_member, tell_assignee
from bot.slack.web_api import call, now, tell
from flows.case_studies import window_item
from flows.checklist import get_checklist
from flows.reminders import snooze_until
from storage import reminders as store
from storage import walks
from storage.db import Database

SNOOZES = {"reminder_snooze_day": "day", "reminder_snooze_week": "week"}


def register(app: App) -> None:
    for action_id in SNOOZES:
        app.action(action_id, middleware=[MembersOnly(of_button)])(snooze)
    app.action("reminder_assign", middleware=[MembersOnly(of_block)])(assign)


def snooze(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    ack()
    application_id, target = blocks.parse_item_value(action["value"])
    state = walks.load(db, application_id)
    checklist = get_checklist(*state.release_key)
    if target.startswith(store.CASE_STUDY):
        item = window_item(checklist)
        expires_on = store.case_study_expiry(db, int(target[len(store.CASE_STUDY):]), item)
    else:
        item = checklist.item(target)
        expires_on = state.answer(target).expires_on
    if expires_on is None or item is None:
        return  # nothing ages any more: nothing to snooze
    moment = now()
    user_zone = store.user_timezones(db, context.team_id).get(context.user_id) or state.timezone
    until = snooze_until(moment, SNOOZES[action["action_id"]], expires_on, user_zone)
    store.snooze(db, application_id, target, until, context.user_id, moment)
    call(client, "chat_postMessage", channel=body["channel"]["id"], text=say("snoozed", state.language, item=item,
         until=until), thread_ts=(body.get("message") or {}).get("ts"))


def assign(ack: Ack, action: dict, client: WebClient, context: BoltContext, respond: Respond, db: Database,
           language: str) -> None:
    ack()
    _, item_id = blocks.parse_item_value(action["block_id"].partition(":")[2])
    assignee = action.get("selected_user") or ""
    outcome, said = assign_member(db, context["application_id"], item_id, assignee, context.user_id, language)
    tell(respond, said)
    if outcome is not None:
        tell_assignee(db, client, context.team_id, outcome, item_id, assignee, context.user_id)
