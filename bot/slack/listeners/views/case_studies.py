"""The case-study form and the documents form, submitted."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.blocks import view_metadata
from bot.slack.case_studies import (
    CASE_MODAL,
    DIAGRAM_FILE,
    DOCUMENT_FILE,
    DOCUMENTS_MODAL,
    changed_by,
    document_kind,
    field_error,
    link_or_file,
    not_found,
    say,
    submitted_case_study,
    submitted_value,
)
from bot.slack.middleware import MembersOnly, of_view
from bot.slack.web_api import now, post_or_tell
from flows.case_studies import document_problem, validate_case_study
from flows.checklist import get_checklist
from flows.evidence import local_today
from storage import case_studies
from storage.db import Database


def register(app: App) -> None:
    app.view(CASE_MODAL, middleware=[MembersOnly(of_view)])(save_case_study)
    app.view(DOCUMENTS_MODAL, middleware=[MembersOnly(of_view)])(save_document)


def save_case_study(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    metadata = view_metadata(view)
    application_id, case_study_id = context["application_id"], metadata.get("id")
    current = case_studies.overview(db, application_id, now())
    language = current.state.language
    stored = next((cs for cs in current.case_studies if cs.id == case_study_id), None)
    if case_study_id is not None and stored is None:
        ack(response_action="errors", errors={"customer_name": not_found(language)})
        return
    fields = submitted_case_study(view["state"]["values"], stored)
    case_study, problems = validate_case_study(fields, get_checklist(*current.state.release_key),
                                               local_today(now(), current.state.timezone))
    if problems:
        ack(response_action="errors", errors={DIAGRAM_FILE if name == "diagram_file_id" else name:
                                              field_error(code, language) for name, code in problems.items()})
        return
    if stored is None:
        overview, number = case_studies.add(db, application_id, case_study, context.user_id, now())
    else:
        overview, number = case_studies.update(db, application_id, stored.id, case_study, context.user_id, now())
    ack()
    text = say("saved", language, overview=overview, number=number, editing=stored is not None)
    post_or_tell(client, context.user_id, language, channel=metadata["c"],
                 text=changed_by(text, language, context.user_id))


def save_document(ack: Ack, view: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    application_id = context["application_id"]
    current = case_studies.overview(db, application_id, now())
    language, delivery_type = current.state.language, current.state.delivery_type
    kind = document_kind(delivery_type)
    values = view["state"]["values"]
    link, file_id = link_or_file((submitted_value(values, "link").get("value") or "").strip(),
                                 submitted_value(values, DOCUMENT_FILE).get("files") or [],
                                 getattr(current.documents, kind), getattr(current.documents, f"{kind}_file_id"))
    problem = document_problem(kind, link, file_id, delivery_type)
    if problem is not None:
        ack(response_action="errors", errors={"link": field_error(problem, language)})
        return
    overview = case_studies.set_document(db, application_id, kind, link, file_id, context.user_id, now())
    ack()
    text = say("document_saved", language, kind=kind, overview=overview)
    post_or_tell(client, context.user_id, language, channel=view_metadata(view)["c"],
                 text=changed_by(text, language, context.user_id))
