"""Slack listeners for case studies and the solution documents: ``/competency case``,
``cases`` and ``documents``, the case-study modal (new, or pre-filled from an Edit
button) and the documents modal.

As in the walk, every listener stores first, then calls ``ack()``, then makes its Web
API calls. Uploaded files are recorded by their Slack file id and permalink from the
view state; nothing is downloaded.
"""

from __future__ import annotations

import json

from slack_bolt import App
from slack_sdk import WebClient

from bot.render import render
from bot.slack.blocks import MESSAGE_BLOCKS, _input, fold, plain, section
from bot.slack.commands import CommandRequest, CommandRouter, slack_text
from bot.slack.walk import call, now
from flows.case_studies import (
    DEPLOYMENT_GUIDE,
    OVERALL_DIAGRAM,
    SAAS,
    CaseStudy,
    case_study_fields,
    document_problem,
    validate_case_study,
)
from flows.checklist import Checklist, get_checklist
from flows.evidence import local_today
from storage import case_studies
from storage import slack as slack_store
from storage.db import Database

CASE_MODAL = "case_study_modal"
DOCUMENTS_MODAL = "documents_modal"
EDIT_ACTION = "case_edit"
DIAGRAM_FILE = "diagram_file"
DOCUMENT_FILE = "document_file"
TEXT_FIELDS = ("customer_name", "customer_website", "challenge", "deployment", "third_party", "outcomes",
               "public_url", "diagram")
MULTILINE = ("challenge", "deployment", "third_party", "outcomes")


def _label(name: str, language: str) -> str:
    return render("slack/case_studies.j2", "modal", language, style="slack", name=name)


def _field_error(code: str, language: str) -> str:
    return render("case_studies.j2", "field_error", language, style="slack", code=code)


def _cases_text(macro: str, language: str, **params) -> str:
    return render("case_studies.j2", macro, language, style="slack", **params)


def _option(value: str, text: str) -> dict:
    return {"text": plain(text), "value": value}


def _file_input(block_id: str, language: str) -> dict:
    return _input(block_id, _label(block_id, language),
                  {"type": "file_input", "action_id": "value", "max_files": 1}, optional=True)


def case_study_modal(checklist: Checklist, language: str, metadata: dict, existing: CaseStudy | None) -> dict:
    """Every field of a case study, in the seed's order; pre-filled from ``existing``."""
    values = case_study_fields(existing) if existing else {}

    def text_input(name: str, optional: bool = False) -> dict:
        element = {"type": "plain_text_input", "action_id": "value", "multiline": name in MULTILINE,
                   "max_length": 200 if name == "customer_name" else 3000}
        if values.get(name):
            element["initial_value"] = values[name]
        return _input(name, _label(name, language), element, optional=optional)

    def choice(name: str, kind: str, options: list[dict]) -> dict:
        element = {"type": kind, "action_id": "value", "options": options}
        chosen = [o for o in options if o["value"] == values.get(name)]
        if chosen:
            element["initial_option"] = chosen[0]
        return _input(name, _label(name, language), element)

    production_date = {"type": "datepicker", "action_id": "value"}
    if values.get("production_date"):
        production_date["initial_date"] = values["production_date"]
    yes_no = [_option("yes", _label("yes", language)), _option("no", _label("no", language))]
    return {
        "type": "modal",
        "callback_id": CASE_MODAL,
        "private_metadata": json.dumps(metadata),
        "title": plain(_label("case_title", language), 24),
        "submit": plain(_label("submit", language), 24),
        "close": plain(_label("cancel", language), 24),
        "blocks": [
            text_input("customer_name"),
            text_input("customer_website"),
            text_input("challenge"),
            text_input("deployment"),
            text_input("third_party"),
            _input("production_date", _label("production_date", language), production_date),
            choice("in_production", "radio_buttons", [_option("yes", _label("production", language)),
                                                      _option("no", _label("pilot", language))]),
            text_input("outcomes"),
            choice("category", "static_select",
                   [_option(c.id, c.title(language)) for c in checklist.categories]),
            choice("public", "radio_buttons", yes_no),
            text_input("public_url", optional=True),
            text_input("diagram", optional=True),
            _file_input(DIAGRAM_FILE, language),
        ],
    }


def documents_modal(kind: str, link: str, language: str, metadata: dict) -> dict:
    """The one solution-wide document the delivery type needs: a link or an upload."""
    element = {"type": "plain_text_input", "action_id": "value", "max_length": 3000}
    if link:
        element["initial_value"] = link
    return {
        "type": "modal",
        "callback_id": DOCUMENTS_MODAL,
        "private_metadata": json.dumps(metadata),
        "title": plain(_label("documents_title", language), 24),
        "submit": plain(_label("submit", language), 24),
        "close": plain(_label("cancel", language), 24),
        "blocks": [_input("link", _label(kind, language), element, optional=True),
                   _file_input(DOCUMENT_FILE, language)],
    }


def _value(values: dict, block_id: str) -> dict:
    return (values.get(block_id) or {}).get("value") or {}


def link_or_file(link: str, files: list[dict], stored_link: str, stored_file_id: str) -> tuple[str, str]:
    """(link, Slack file id) to store. An uploaded file wins: its permalink becomes the link.
    Without one, the stored file id stays only while the link is still that file's."""
    if files:
        return files[0].get("permalink") or link, files[0]["id"]
    return link, stored_file_id if link and link == stored_link else ""


def submitted_case_study(values: dict, stored: CaseStudy | None) -> dict[str, str]:
    """The modal's view state as the form fields validate_case_study reads."""
    fields = {name: (_value(values, name).get("value") or "").strip() for name in TEXT_FIELDS}
    for name in ("in_production", "category", "public"):
        fields[name] = (_value(values, name).get("selected_option") or {}).get("value") or ""
    fields["production_date"] = _value(values, "production_date").get("selected_date") or ""
    stored = stored or CaseStudy()
    fields["diagram"], fields["diagram_file_id"] = link_or_file(
        fields["diagram"], _value(values, DIAGRAM_FILE).get("files") or [], stored.diagram, stored.diagram_file_id
    )
    return fields


def document_kind(delivery_type: str) -> str:
    return OVERALL_DIAGRAM if delivery_type == SAAS else DEPLOYMENT_GUIDE


def cases_blocks(overview: case_studies.CaseStudyOverview, checklist: Checklist) -> list[dict]:
    """The findings overall, then each case study with its own findings and an Edit button."""
    language = overview.state.language
    found = [section(chunk) for chunk in fold(_cases_text("report", language, overview=overview))]
    for index, case_study in enumerate(overview.case_studies):
        own = overview.assessment.findings_for(index)
        text = _cases_text("case_line", language, case_study=case_study, number=index + 1, checklist=checklist)
        if own:
            text += "\n" + _cases_text("findings_list", language, findings=own)
        chunks = [section(chunk) for chunk in fold(text)]
        chunks[0]["accessory"] = {"type": "button", "action_id": EDIT_ACTION, "text": plain(_label("edit", language)),
                                  "value": f"{overview.state.id}|{case_study.id}"}
        found += chunks
    return found[:MESSAGE_BLOCKS]


def register(app: App, db: Database, router: CommandRouter) -> None:
    def open_case_modal(client: WebClient, trigger_id: str, application_id: int, channel: str,
                        existing: CaseStudy | None, language: str, checklist: Checklist) -> None:
        metadata = {"a": application_id, "c": channel, "id": existing.id if existing else None}
        call(client, "views_open", trigger_id=trigger_id,
             view=case_study_modal(checklist, language, metadata, existing))

    def case_command(request: CommandRequest) -> None:
        request.ack()
        open_case_modal(request.client, request.body["trigger_id"], request.state.id, request.channel, None,
                        request.language, get_checklist(request.state.checklist_id))

    def cases_command(request: CommandRequest) -> None:
        overview = case_studies.overview(db, request.state.id, now())
        shown = cases_blocks(overview, get_checklist(request.state.checklist_id))
        request.ack(text=_cases_text("report", request.language, overview=overview), blocks=shown)

    def documents_command(request: CommandRequest) -> None:
        request.ack()
        overview = case_studies.overview(db, request.state.id, now())
        kind = document_kind(request.state.delivery_type)
        call(request.client, "views_open", trigger_id=request.body["trigger_id"],
             view=documents_modal(kind, getattr(overview.documents, kind), request.language,
                                  {"a": request.state.id, "c": request.channel}))

    router.add(("case", "案例"), case_command)
    router.add(("cases", "案例列表"), cases_command, members_only=False)
    router.add(("documents", "文档"), documents_command)

    @app.action(EDIT_ACTION)
    def edit_button(ack, body, action, client):  # noqa: ANN001
        ack()
        team_id, user, channel = body["team"]["id"], body["user"]["id"], body["channel"]["id"]
        application_id, case_study_id = (int(part) for part in action["value"].split("|"))
        overview = case_studies.overview(db, application_id, now())
        language = overview.state.language
        if not slack_store.may_change(db, team_id, application_id, user):
            call(client, "chat_postEphemeral", channel=channel, user=user, text=slack_text("not_member", language))
            return
        existing = next((cs for cs in overview.case_studies if cs.id == case_study_id), None)
        if existing is None:
            call(client, "chat_postEphemeral", channel=channel, user=user,
                 text=render("slack/case_studies.j2", "not_found", language, style="slack"))
            return
        open_case_modal(client, body["trigger_id"], application_id, channel, existing, language,
                        get_checklist(overview.state.checklist_id))

    @app.view(CASE_MODAL)
    def case_submitted(ack, body, view, client):  # noqa: ANN001
        metadata = json.loads(view.get("private_metadata") or "{}")
        team_id, user = body["team"]["id"], body["user"]["id"]
        application_id, case_study_id = int(metadata["a"]), metadata.get("id")
        current = case_studies.overview(db, application_id, now())
        language = current.state.language
        if not slack_store.may_change(db, team_id, application_id, user):
            ack(response_action="errors", errors={"customer_name": slack_text("not_member", language)})
            return
        stored = next((cs for cs in current.case_studies if cs.id == case_study_id), None)
        if case_study_id is not None and stored is None:
            ack(response_action="errors",
                errors={"customer_name": render("slack/case_studies.j2", "not_found", language, style="slack")})
            return
        checklist = get_checklist(current.state.checklist_id)
        fields = submitted_case_study(view["state"]["values"], stored)
        case_study, problems = validate_case_study(fields, checklist, local_today(now(), current.state.timezone))
        if problems:
            ack(response_action="errors", errors={
                DIAGRAM_FILE if name == "diagram_file_id" else name: _field_error(code, language)
                for name, code in problems.items()
            })
            return
        if stored is None:
            overview, number = case_studies.add(db, application_id, case_study, user, now())
        else:
            overview, number = case_studies.update(db, application_id, stored.id, case_study, user, now())
        ack()
        text = _cases_text("saved", language, overview=overview, number=number, editing=stored is not None)
        call(client, "chat_postMessage", channel=metadata["c"],
             text=text + "\n" + render("slack/case_studies.j2", "changed_by", language, style="slack", who=user))

    @app.view(DOCUMENTS_MODAL)
    def documents_submitted(ack, body, view, client):  # noqa: ANN001
        metadata = json.loads(view.get("private_metadata") or "{}")
        team_id, user = body["team"]["id"], body["user"]["id"]
        application_id = int(metadata["a"])
        current = case_studies.overview(db, application_id, now())
        language, delivery_type = current.state.language, current.state.delivery_type
        if not slack_store.may_change(db, team_id, application_id, user):
            ack(response_action="errors", errors={"link": slack_text("not_member", language)})
            return
        kind = document_kind(delivery_type)
        values = view["state"]["values"]
        link, file_id = link_or_file((_value(values, "link").get("value") or "").strip(),
                                     _value(values, DOCUMENT_FILE).get("files") or [],
                                     getattr(current.documents, kind), getattr(current.documents, f"{kind}_file_id"))
        problem = document_problem(kind, link, file_id, delivery_type)
        if problem is not None:
            ack(response_action="errors", errors={"link": _field_error(problem, language)})
            return
        overview = case_studies.set_document(db, application_id, kind, link, file_id, user, now())
        ack()
        text = _cases_text("document_saved", language, kind=kind, overview=overview)
        call(client, "chat_postMessage", channel=metadata["c"],
             text=text + "\n" + render("slack/case_studies.j2", "changed_by", language, style="slack", who=user))
