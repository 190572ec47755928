"""The plan form, submitted: checked, stored with its history row, then the invite shared."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.blocks import view_metadata
from bot.slack.drills import PLAN_VIEW, say, share_invite
from bot.slack.middleware import MembersOnly, of_view
from bot.slack.web_api import call, now
from flows.checklist import get_checklist
from flows.drills import DrillPlan, judge_when, plan_form_problems
from storage import drills, walks
from storage.db import Database


def register(app: App) -> None:
    app.view(PLAN_VIEW, middleware=[MembersOnly(of_view)])(save_plan)


def save_plan(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    metadata = view_metadata(view)
    state = walks.load(db, context["application_id"])
    item = get_checklist(*state.release_key).item(metadata["i"])
    values = view["state"]["values"]
    day_text = values["day"]["value"].get("selected_date") or ""
    time_text = (values.get("time", {}).get("value") or {}).get("selected_time") or ""
    attendees = tuple((values.get("attendees", {}).get("value") or {}).get("selected_users") or ())
    zone_name, moment = metadata.get("z") or state.timezone, now()
    problems = plan_form_problems(item, day_text, time_text, attendees, moment, zone_name)
    if problems:
        ack(response_action="errors", errors={field: say("problem", state.language, reason=reason, item=item,
                                                         text=day_text if field == "day" else time_text)
                                              for field, reason in problems.items()})
        return
    day, at = judge_when(day_text, time_text, moment, zone_name)
    plan = drills.save_plan(db, state.id, DrillPlan(item.id, day, at, zone_name, attendees), context.user_id, moment)
    ack()
    error = share_invite(client, metadata["c"], metadata.get("ts"), state, item, plan, context.user_id, moment)
    if error is not None:  # the plan stays stored: the planner is told where they planned
        call(client, "chat_postEphemeral", channel=metadata["c"], user=context.user_id,
             text=say("invite_refused", state.language, error=error))
