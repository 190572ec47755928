"""The start form and the evidence form, submitted."""

from __future__ import annotations

from datetime import date

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.render import render
from bot.slack.blocks import view_metadata
from bot.slack.middleware import MembersOnly, of_view
from bot.slack.texts import say_messages, slack_text
from bot.slack.walk import tell_about_sign_off
from bot.slack.web_api import call_pages, now, post_item, post_or_tell, tell_user_if_refused, update_item
from flows.application import DEFAULT_LANGUAGE, ApplicationState, new_application_problems
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from flows.evidence import DateProblem
from flows.walk import evidence_form_problems
from storage import slack as slack_store
from storage import walks
from storage.db import Database
from storage.errors import PartnerExists


def register(app: App) -> None:
    app.view("start_modal")(start_application)
    app.view("evidence_modal", middleware=[MembersOnly(of_view)])(save_evidence)
    app.view("upgrade_modal", middleware=[MembersOnly(of_view)])(move_to_release)


def start_application(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    state = submitted_application(view)
    problems = new_application_problems(state.partner, state.delivery_type, state.categories,
                                        get_checklist(state.checklist_id))
    channel = view_metadata(view).get("c", "")
    existing = walks.in_channel(db, context.team_id, channel)
    if existing:  # started by someone else since the form opened
        ack(response_action="errors", errors={"partner": slack_text("already_started", state.language,
                                                                    partner=existing[0].partner)})
        return
    if not problems and walks.find(db, state.partner, context.team_id) is not None:
        problems["partner"] = "partner_exists"
    if problems:
        ack(response_action="errors", errors={field: slack_text("field_error", state.language, code=code)
                                              for field, code in problems.items()})
        return
    # Read before saving: an application whose channel the bot cannot read is never kept.
    members = call_pages(client, "conversations_members", "members", channel=channel, limit=500)
    if members is None:
        ack(response_action="errors", errors={"partner": slack_text("invite_me", state.language)})
        return
    try:
        state = walks.start(db, state, context.user_id, now(), team_id=context.team_id, channel_id=channel)
    except PartnerExists:  # started by someone else since the check above
        ack(response_action="errors",
            errors={"partner": slack_text("field_error", state.language, code="partner_exists")})
        return
    slack_store.replace_members(db, context.team_id, channel, members, now())
    ack()
    outcome = walks.resume(db, state.id, context.user_id, now())
    error = post_item(db, client, context.team_id, channel, outcome.state, outcome.state.cursor,
                      intro=slack_text("started", state.language, partner=state.partner, who=context.user_id))
    tell_user_if_refused(client, channel, context.user_id, state.language, error)


def submitted_application(view: dict) -> ApplicationState:
    values = view["state"]["values"]

    def chosen(block_id: str) -> str | None:
        return (values[block_id]["value"].get("selected_option") or {}).get("value")

    audit = values["audit_date"]["value"].get("selected_date")
    # The form offers a choice of checklist only when several are installed.
    checklist = get_checklist(chosen("checklist") if "checklist" in values else DEFAULT_CHECKLIST)
    ticked = (o["value"] for o in values["categories"]["value"].get("selected_options") or [])
    return ApplicationState(
        partner=(values["partner"]["value"].get("value") or "").strip(),
        delivery_type=chosen("delivery"),
        checklist_id=checklist.id,
        categories=tuple(category for category in ticked if checklist.category(category)),
        language=chosen("language") or DEFAULT_LANGUAGE,
        target_audit_date=date.fromisoformat(audit) if audit else None,
    )


def save_evidence(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    metadata = view_metadata(view)
    application_id, item_id = context["application_id"], metadata["i"]
    state = walks.load(db, application_id)
    values = view["state"]["values"]
    link = (values["link"]["value"].get("value") or "").strip()
    date_text = values.get("evidence_date", {}).get("value", {}).get("selected_date") or ""
    note = ((values.get("note", {}).get("value", {}) or {}).get("value") or "").strip()
    item = get_checklist(*state.release_key).item(item_id)
    errors = {field: slack_text("field_error", state.language, code=code)
              for field, code in evidence_form_problems(item, link, date_text, note).items()}
    if errors:
        ack(response_action="errors", errors=errors)
        return
    result = walks.record_evidence(db, application_id, item_id, link, date_text, note, context.user_id, now())
    if isinstance(result, DateProblem):
        ack(response_action="errors",
            errors={"evidence_date": slack_text("field_error", state.language, code=result.reason)})
        return
    ack()
    tell_about_sign_off(client, result)
    # The form may come from a reminder, whose message (and its Snooze) stays as it is.
    if metadata.get("ts") and slack_store.item_message(db, context.team_id, metadata["c"], metadata["ts"]):
        update_item(client, metadata["c"], metadata["ts"], result.state, item_id)
    post_or_tell(client, context.user_id, state.language, channel=metadata["c"], thread_ts=metadata.get("ts") or None,
                 text=say_messages(result.messages, state.language))


def move_to_release(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    """The upgrade form, confirmed: the move is one history step; the channel is told what
    it kept, reopened and archived."""
    metadata = view_metadata(view)
    state = walks.load(db, context["application_id"])
    plan = walks.upgrade(db, state.id, get_checklist(state.checklist_id, metadata["r"]), context.user_id, now())
    ack()
    if plan.problem:  # moved by someone else since the form opened
        text = render("releases.j2", "upgrade_refused", state.language, style="slack", plan=plan)
    else:
        text = "\n".join([render("releases.j2", "upgraded", state.language, style="slack", plan=plan),
                          render("releases.j2", "upgrade_plan", state.language, style="slack", plan=plan)])
    post_or_tell(client, context.user_id, state.language, channel=metadata["c"], text=text)
