"""``/competency help | start | status | next | goto ID | assign ID @person | export [FORMAT]``."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.exports import render_export
from bot.slack import blocks
from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.texts import say_messages, slack_text, status_text
from bot.slack.walk import tell_assignee
from bot.slack.web_api import call, now, post_item
from flows.application import ApplicationState
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from flows.export import export_filename
from storage import walks
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


def show_help(ack: Ack, language: str) -> None:
    ack(slack_text("help", language))


def open_start_form(ack: Ack, body: dict, client: WebClient, language: str) -> None:
    ack()
    call(client, "views_open", trigger_id=body["trigger_id"],
         view=blocks.start_modal(get_checklist(DEFAULT_CHECKLIST), body["channel_id"], language))


def show_status(ack: Ack, state: ApplicationState) -> None:
    ack(status_text(state))


def post_current_item(ack: Ack, body: dict, client: WebClient, context: BoltContext, db: Database,
                      state: ApplicationState) -> None:
    ack()
    outcome = walks.resume(db, state.id, context.user_id, now())
    post_item(db, client, context.team_id, body["channel_id"], outcome.state, outcome.state.cursor)


def go_to_item(ack: Ack, body: dict, client: WebClient, context: BoltContext, db: Database,
               state: ApplicationState, argument: str) -> None:
    outcome = walks.step(db, state.id, f"goto {argument}", context.user_id, now())
    if not any(m.name == "item" for m in outcome.messages):
        ack(say_messages(outcome.messages, state.language))
        return
    ack()
    post_item(db, client, context.team_id, body["channel_id"], outcome.state, outcome.state.cursor)


def assign(ack: Ack, client: WebClient, context: BoltContext, db: Database, state: ApplicationState,
           argument: str, language: str) -> None:
    mention = USER_MENTION.search(argument)
    item_id = argument.split()[0] if argument.split() else ""
    if not mention or not item_id:
        ack(slack_text("assign_usage", language))
        return
    outcome = walks.assign(db, state.id, item_id, mention.group(1), context.user_id, now())
    ack(say_messages(outcome.messages, language))
    tell_assignee(db, client, context.team_id, outcome, item_id, mention.group(1), context.user_id)


def upload_export(ack: Ack, body: dict, client: WebClient, db: Database, state: ApplicationState,
                  argument: str, language: str) -> None:
    fmt = argument.lower() or "md"
    if fmt not in UPLOAD_FORMATS:
        ack(slack_text("export_usage", language, formats=UPLOAD_FORMATS))
        return
    ack()
    call(client, "files_upload_v2", channel=body["channel_id"], content=render_export(db, state, fmt, now()),
         filename=export_filename(state.partner, fmt), title=state.partner,
         initial_comment=slack_text("export_comment", language, partner=state.partner))
