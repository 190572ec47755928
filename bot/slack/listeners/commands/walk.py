"""``/competency help | start | status | next | goto ID | assign ID @person | export [FORMAT] | upgrade [RELEASE]``."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.exports import render_export
from bot.render import render
from bot.slack import blocks
from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.texts import say_messages, slack_text, status_text, walk_done_text
from bot.slack.walk import assign_member, tell_assignee, why_not_here
from bot.slack.web_api import call_or_tell, language_of, now, post_item, sync_members, tell
from flows.application import ApplicationState
from flows.checklist import DEFAULT_CHECKLIST, Checklist, ChecklistError, checklist_ids, get_checklist
from flows.export import export_filename
from storage import drills, walks
from storage.db import Database

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
UPLOAD_FORMATS = ("md", "html", "csv", "xlsx")  # json is for programs, not for a channel


def register(app: App) -> None:
    add_subcommand(app, "help", show_help, needs_application=False, members_only=False)
    add_subcommand(app, "start", open_start_form, needs_application=False, members_only=False)
    add_subcommand(app, "status", show_status, members_only=False)
    add_subcommand(app, "next", post_current_item)
    add_subcommand(app, "goto", go_to_item)
    add_subcommand(app, "assign", assign)
    add_subcommand(app, "export", upload_export)
    add_subcommand(app, "sync", read_members_again, members_only=False)
    add_subcommand(app, "upgrade", open_upgrade_form)


def show_help(ack: Ack, language: str) -> None:
    ack(slack_text("help", language))


def open_start_form(ack: Ack, body: dict, client: WebClient, respond: Respond, state: ApplicationState | None,
                    language: str) -> None:
    if state is not None:
        ack(slack_text("already_started", language, partner=state.partner))
        return
    ack()
    language = language_of(client, body["user_id"])  # no application yet: the person's own language
    # Decided before anything is saved: an application must live where the bot can serve it.
    problem = why_not_here(client, body["channel_id"])
    if problem is not None:
        tell(respond, slack_text(problem, language))
        return
    call_or_tell(respond, language, client, "views_open", trigger_id=body["trigger_id"],
                 view=blocks.start_modal(startable_checklists(), body["channel_id"], language))


def startable_checklists() -> list[Checklist]:
    """The newest release of each installed checklist, the retail checklist first."""
    return sorted((get_checklist(checklist_id) for checklist_id in checklist_ids()),
                  key=lambda checklist: checklist.id != DEFAULT_CHECKLIST)


def open_upgrade_form(ack: Ack, body: dict, client: WebClient, respond: Respond, db: Database,
                      state: ApplicationState, argument: str, language: str) -> None:
    """``/competency upgrade [RELEASE]``: a form that says what moving to the release (the
    newest installed one when none is named) keeps, reopens and archives, to confirm."""
    try:
        new = get_checklist(state.checklist_id, argument.strip())
    except ChecklistError as error:
        ack(render("releases.j2", "checklist_problem", language, style="slack", error=error))
        return
    plan = walks.plan_upgrade(db, state.id, new)
    if plan.problem:
        ack(render("releases.j2", "upgrade_refused", language, style="slack", plan=plan))
        return
    ack()
    metadata = {"a": state.id, "r": new.release, "c": body["channel_id"]}
    call_or_tell(respond, language, client, "views_open", trigger_id=body["trigger_id"],
                 view=blocks.upgrade_modal(plan, metadata, language))


def show_status(ack: Ack, db: Database, state: ApplicationState) -> None:
    ack(status_text(state, now(), drills.plans(db, state.id)))


def post_current_item(ack: Ack, body: dict, client: WebClient, context: BoltContext, respond: Respond,
                      db: Database, state: ApplicationState, language: str) -> None:
    outcome = walks.resume(db, state.id, context.user_id, now())
    if outcome.state.cursor is None:
        ack(walk_done_text(outcome.state, now(), drills.plans(db, state.id)))
        return
    ack()
    error = post_item(db, client, context.team_id, body["channel_id"], outcome.state, outcome.state.cursor)
    if error:
        tell(respond, slack_text("slack_refused", language, error=error))


def go_to_item(ack: Ack, body: dict, client: WebClient, context: BoltContext, respond: Respond, db: Database,
               state: ApplicationState, argument: str, language: str) -> None:
    outcome = walks.step(db, state.id, f"goto {argument}", context.user_id, now())
    if not any(m.name == "item" for m in outcome.messages):
        ack(say_messages(outcome.messages, state.language))
        return
    ack()
    error = post_item(db, client, context.team_id, body["channel_id"], outcome.state, outcome.state.cursor)
    if error:
        tell(respond, slack_text("slack_refused", language, error=error))


def assign(ack: Ack, client: WebClient, context: BoltContext, db: Database, state: ApplicationState,
           argument: str, language: str) -> None:
    mention = USER_MENTION.search(argument)
    item_id = argument.split()[0] if argument.split() else ""
    if not mention or not item_id:
        ack(slack_text("assign_usage", language))
        return
    outcome, said = assign_member(db, state.id, item_id, mention.group(1), context.user_id, language)
    ack(said)
    if outcome is not None:
        tell_assignee(db, client, context.team_id, outcome, item_id, mention.group(1), context.user_id)


def upload_export(ack: Ack, body: dict, client: WebClient, respond: Respond, db: Database, state: ApplicationState,
                  argument: str, language: str) -> None:
    fmt = argument.lower() or "md"
    if fmt not in UPLOAD_FORMATS:
        ack(slack_text("export_usage", language, formats=UPLOAD_FORMATS))
        return
    ack()
    call_or_tell(respond, language, client, "files_upload_v2", channel=body["channel_id"],
                 content=render_export(db, state, fmt, now()),
         filename=export_filename(state.partner, state.id, fmt), title=state.partner,
         initial_comment=slack_text("export_comment", language, partner=state.partner))


def read_members_again(ack: Ack, body: dict, client: WebClient, context: BoltContext, respond: Respond,
                       db: Database, language: str) -> None:
    """Members are kept current by join and leave events; this reads them afresh from Slack."""
    ack()
    members = sync_members(db, client, context.team_id, body["channel_id"])
    if members is None:
        tell(respond, slack_text("invite_me", language))
    else:
        tell(respond, slack_text("members_synced", language, count=len(members)))
