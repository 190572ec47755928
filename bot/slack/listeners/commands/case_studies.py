"""``/competency case | cases | documents``."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack.case_studies import cases_blocks, document_kind, documents_modal, open_case_form, say
from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.web_api import call_or_tell, now
from flows.application import ApplicationState
from flows.checklist import get_checklist
from storage import case_studies
from storage.db import Database


def register(app: App) -> None:
    add_subcommand(app, "case", open_new_case_study)
    add_subcommand(app, "cases", list_case_studies, members_only=False)
    add_subcommand(app, "documents", open_documents_form)


def open_new_case_study(ack: Ack, body: dict, client: WebClient, respond: Respond, state: ApplicationState,
                        language: str) -> None:
    ack()
    open_case_form(client, respond, body["trigger_id"], state.id, body["channel_id"], None, language,
                   get_checklist(*state.release_key))


def list_case_studies(ack: Ack, db: Database, state: ApplicationState, language: str) -> None:
    overview = case_studies.overview(db, state.id, now())
    ack(text=say("report", language, overview=overview),
        blocks=cases_blocks(overview, get_checklist(*state.release_key)))


def open_documents_form(ack: Ack, body: dict, client: WebClient, respond: Respond, db: Database,
                        state: ApplicationState, language: str) -> None:
    ack()
    overview = case_studies.overview(db, state.id, now())
    kind = document_kind(state.delivery_type)
    call_or_tell(respond, language, client, "views_open", trigger_id=body["trigger_id"],
                 view=documents_modal(kind, getattr(overview.documents, kind), language,
                                      {"a": state.id, "c": body["channel_id"]}))
