"""Case studies and the solution documents in Slack: the case-study form (new, or
pre-filled from an Edit button), the documents form, the list with its findings, and
reading the forms back. The listeners are in ``bot/slack/listeners/``.

Uploaded files are recorded by their Slack file id and permalink from the view state;
nothing is downloaded.
"""

from __future__ import annotations

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.render import render
from bot.slack.blocks import MESSAGE_BLOCKS, fold, input_block, modal, plain, section
from bot.slack.web_api import call_or_tell
from flows.case_studies import (
    DEPLOYMENT_GUIDE,
    OVERALL_DIAGRAM,
    SAAS,
    CaseStudy,
    case_study_fields,
)
from flows.checklist import Checklist
from storage import case_studies

CASE_MODAL = "case_study_modal"
DOCUMENTS_MODAL = "documents_modal"
EDIT_ACTION = "case_edit"
DIAGRAM_FILE = "diagram_file"
DOCUMENT_FILE = "document_file"
TEXT_FIELDS = ("customer_name", "customer_website", "challenge", "deployment", "third_party", "outcomes",
               "public_url", "diagram")
MULTILINE = ("challenge", "deployment", "third_party", "outcomes")


def label(name: str, language: str) -> str:
    return render("slack/case_studies.j2", "modal", language, style="slack", name=name)


def field_error(code: str, language: str) -> str:
    return render("case_studies.j2", "field_error", language, style="slack", code=code)


def say(macro: str, language: str, **params) -> str:
    return render("case_studies.j2", macro, language, style="slack", **params)


def _option(value: str, text: str) -> dict:
    return {"text": plain(text), "value": value}


def _file_input(block_id: str, language: str) -> dict:
    return input_block(block_id, label(block_id, language),
                  {"type": "file_input", "action_id": "value", "max_files": 1}, optional=True)


def case_study_modal(checklist: Checklist, language: str, metadata: dict, existing: CaseStudy | None) -> dict:
    """Every field of a case study, in the seed's order; pre-filled from ``existing``."""
    values = case_study_fields(existing) if existing else {}

    def text_input(name: str, optional: bool = False) -> dict:
        element = {"type": "plain_text_input", "action_id": "value", "multiline": name in MULTILINE,
                   "max_length": 200 if name == "customer_name" else 3000}
        if values.get(name):
            element["initial_value"] = values[name]
        return input_block(name, label(name, language), element, optional=optional)

    def choice(name: str, kind: str, options: list[dict]) -> dict:
        element = {"type": kind, "action_id": "value", "options": options}
        chosen = [o for o in options if o["value"] == values.get(name)]
        if chosen:
            element["initial_option"] = chosen[0]
        return input_block(name, label(name, language), element)

    production_date = {"type": "datepicker", "action_id": "value"}
    if values.get("production_date"):
        production_date["initial_date"] = values["production_date"]
    yes_no = [_option("yes", label("yes", language)), _option("no", label("no", language))]
    return modal(CASE_MODAL, metadata, label("case_title", language), label("submit", language),
                 label("cancel", language), [
            text_input("customer_name"),
            text_input("customer_website"),
            text_input("challenge"),
            text_input("deployment"),
            text_input("third_party"),
            input_block("production_date", label("production_date", language), production_date),
            choice("in_production", "radio_buttons", [_option("yes", label("production", language)),
                                                      _option("no", label("pilot", language))]),
            text_input("outcomes"),
            choice("category", "static_select",
                   [_option(c.id, c.title(language)) for c in checklist.categories]),
            choice("public", "radio_buttons", yes_no),
            text_input("public_url", optional=True),
            text_input("diagram", optional=True),
            _file_input(DIAGRAM_FILE, language),
        ])


def documents_modal(kind: str, link: str, language: str, metadata: dict) -> dict:
    """The one solution-wide document the delivery type needs: a link or an upload."""
    element = {"type": "plain_text_input", "action_id": "value", "max_length": 3000}
    if link:
        element["initial_value"] = link
    return modal(DOCUMENTS_MODAL, metadata, label("documents_title", language), label("submit", language),
                 label("cancel", language), [input_block("link", label(kind, language), element, optional=True),
                                             _file_input(DOCUMENT_FILE, language)])


def submitted_value(values: dict, block_id: str) -> dict:
    return (values.get(block_id) or {}).get("value") or {}


def link_or_file(link: str, files: list[dict], stored_link: str, stored_file_id: str) -> tuple[str, str]:
    """(link, Slack file id) to store. An uploaded file wins: its permalink becomes the link.
    Without one, the stored file id stays only while the link is still that file's."""
    if files:
        return files[0].get("permalink") or link, files[0]["id"]
    return link, stored_file_id if link and link == stored_link else ""


def submitted_case_study(values: dict, stored: CaseStudy | None) -> dict[str, str]:
    """The modal's view state as the form fields validate_case_study reads."""
    fields = {name: (submitted_value(values, name).get("value") or "").strip() for name in TEXT_FIELDS}
    for name in ("in_production", "category", "public"):
        fields[name] = (submitted_value(values, name).get("selected_option") or {}).get("value") or ""
    fields["production_date"] = submitted_value(values, "production_date").get("selected_date") or ""
    stored = stored or CaseStudy()
    fields["diagram"], fields["diagram_file_id"] = link_or_file(
        fields["diagram"], submitted_value(values, DIAGRAM_FILE).get("files") or [], stored.diagram,
        stored.diagram_file_id,
    )
    return fields


def document_kind(delivery_type: str) -> str:
    return OVERALL_DIAGRAM if delivery_type == SAAS else DEPLOYMENT_GUIDE


def cases_blocks(overview: case_studies.CaseStudyOverview, checklist: Checklist) -> list[dict]:
    """The findings overall, then each case study with its own findings and an Edit button."""
    language = overview.state.language
    found = [section(chunk) for chunk in fold(say("report", language, overview=overview))]
    for index, case_study in enumerate(overview.case_studies):
        own = overview.assessment.findings_for(index)
        text = say("case_line", language, case_study=case_study, number=index + 1, checklist=checklist)
        if own:
            text += "\n" + say("findings_list", language, findings=own)
        chunks = [section(chunk) for chunk in fold(text)]
        chunks[0]["accessory"] = {"type": "button", "action_id": EDIT_ACTION, "text": plain(label("edit", language)),
                                  "value": f"{overview.state.id}|{case_study.id}"}
        found += chunks
    return found[:MESSAGE_BLOCKS]


def open_case_form(client: WebClient, respond: Respond, trigger_id: str, application_id: int, channel: str,
                   existing: CaseStudy | None, language: str, checklist: Checklist) -> None:
    metadata = {"a": application_id, "c": channel, "id": existing.id if existing else None}
    call_or_tell(respond, language, client, "views_open", trigger_id=trigger_id,
                 view=case_study_modal(checklist, language, metadata, existing))


def changed_by(text: str, language: str, user: str) -> str:
    """A saved change, told to the channel with who made it."""
    return text + "\n" + render("slack/case_studies.j2", "changed_by", language, style="slack", who=user)


def not_found(language: str) -> str:
    return render("slack/case_studies.j2", "not_found", language, style="slack")
