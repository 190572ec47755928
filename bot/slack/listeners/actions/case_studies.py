"""The Edit button of a case study (in ``/competency cases`` and on its reminders)."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.slack.case_studies import EDIT_ACTION, not_found, open_case_form
from bot.slack.middleware import MembersOnly, of_button
from bot.slack.web_api import now, tell
from flows.checklist import get_checklist
from storage import case_studies
from storage.db import Database


def register(app: App) -> None:
    app.action(EDIT_ACTION, middleware=[MembersOnly(of_button)])(edit_case_study)


def edit_case_study(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext,
                    respond: Respond, db: Database) -> None:
    ack()
    application_id = context["application_id"]
    case_study_id = int(action["value"].split("|")[1])
    overview = case_studies.overview(db, application_id, now())
    channel = body["channel"]["id"]
    existing = next((cs for cs in overview.case_studies if cs.id == case_study_id), None)
    if existing is None:
        tell(respond, not_found(overview.state.language))
        return
    open_case_form(client, respond, body["trigger_id"], application_id, channel, existing, overview.state.language,
                   get_checklist(*overview.state.release_key))
