"""Drill plans in Slack: the Plan it button and its form, the invite shared as an
``.ics`` file, and the question asked after the planned day (its listeners are in
``bot/slack/listeners/actions/drills.py`` and ``views/drills.py``).

Time zone: the planner's own Slack zone (``users.info``'s ``tz``, cached in
``slack_users`` as for reminders), else the application's. Attendees are chosen with a
``multi_users_select``; the invite names them (``users.info``'s real name) in its
description, since the app does not ask for ``users:read.email`` and an iCalendar
``ATTENDEE`` needs an address.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from slack_sdk import WebClient

from bot.drills import DrillQuestion, invite
from bot.render import render
from bot.slack import blocks
from bot.slack.web_api import attempt, call, now
from flows.application import ApplicationState
from flows.checklist import Item
from flows.drills import MAX_ATTENDEES, DrillPlan
from flows.invite import invite_filename
from storage import reminders as reminder_store
from storage.db import Database

PLAN_ACTION = "reminder_plan"
PLAN_VIEW = "drill_plan_modal"
RECORD_ACTION = "walk_evidence"  # the item's evidence form, as on its message


def say(macro: str, language: str, **params) -> str:
    return render("drills.j2", macro, language, style="slack", **params)


def plan_button(application_id: int, item: Item, language: str) -> dict:
    return {"type": "button", "action_id": PLAN_ACTION, "value": blocks.item_value(application_id, item.id),
            "text": blocks.plain(say("button", language, name="plan"))}


def plan_modal(item: Item, state: ApplicationState, metadata: dict, zone_name: str) -> dict:
    label = partial(say, "modal", state.language)
    return blocks.modal(PLAN_VIEW, metadata, label(name="title"), label(name="submit"), label(name="cancel"), [
        blocks.section(say("form_heading", state.language, item=item)),
        blocks.input_block("day", label(name="day"), {"type": "datepicker", "action_id": "value"}),
        blocks.input_block("time", label(name="time", zone=zone_name), {"type": "timepicker", "action_id": "value"},
                           optional=True),
        blocks.input_block("attendees", label(name="attendees"),
                           {"type": "multi_users_select", "action_id": "value", "max_selected_items": MAX_ATTENDEES},
                           optional=True),
    ])


def user_zone(db: Database, client: WebClient, team_id: str, user_id: str, fallback: str) -> str:
    """The person's Slack time zone (cached; else asked of ``users.info``), else ``fallback``."""
    known = reminder_store.user_timezones(db, team_id).get(user_id)
    if known:
        return known
    found = call(client, "users_info", user=user_id)
    zone_name = ((found or {}).get("user") or {}).get("tz") or ""
    if found is not None:
        reminder_store.remember_timezone(db, team_id, user_id, zone_name, now())
    return zone_name or fallback


def attendee_names(client: WebClient, user_ids: tuple[str, ...]) -> list[str]:
    """Each attendee's real name (else display name, else id) for the invite's description."""
    names = []
    for user_id in user_ids:
        user = ((call(client, "users_info", user=user_id) or {}).get("user") or {})
        profile = user.get("profile") or {}
        names.append(user.get("real_name") or profile.get("real_name") or user.get("name") or user_id)
    return names


def share_invite(client: WebClient, channel: str, thread_ts: str | None, state: ApplicationState, item: Item,
                 plan: DrillPlan, who: str, now: datetime) -> str | None:
    """Post the plan with its ``.ics`` (files.getUploadURLExternal, then
    files.completeUploadExternal, through slack_sdk's ``files_upload_v2``); Slack's error, if any."""
    content = invite(state, item, plan, attendee_names(client, plan.attendees), now)
    comment = say("planned", state.language, item=item, plan=plan, who=who)
    return attempt("files_upload_v2", lambda: client.files_upload_v2(
        channel=channel, thread_ts=thread_ts or None, content=content,
        filename=invite_filename(state.partner, item, plan), title=f"{item.id} {item.title(state.language)}",
        initial_comment=comment).data)[1]


def question_blocks(question: DrillQuestion) -> list[dict]:
    language = question.state.language
    text = say("ask_happened", language, item=question.item, plan=question.plan)
    return [blocks.section(chunk) for chunk in blocks.fold(text)] + [{
        "type": "actions", "block_id": f"drill:{question.plan.id}",
        "elements": [{"type": "button", "action_id": RECORD_ACTION, "style": "primary",
                      "value": blocks.item_value(question.state.id, question.item.id),
                      "text": blocks.plain(say("button", language, name="record"))}],
    }]
