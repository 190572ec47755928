"""Case studies in Slack: the real Bolt app over signed HTTP, against the stand-in Web API."""

from __future__ import annotations

import json

from flows.application import NOT_MET
from storage import applications, case_studies, walks
from tests.support.slack import block_action, send_form, send_interaction, slash_command, texts, view_submission

DIAGRAM_FILE = {"id": "F0DIAGRAM1", "name": "arch.png",
                "permalink": "https://test.slack.com/files/UALICE/F0DIAGRAM1/arch.png"}


def case_values(**changes) -> dict:
    text = {"customer_name": "Initech Stores", "customer_website": "https://initech.example.com",
            "challenge": "Stock-outs at peak", "deployment": "Forecasting on SageMaker", "third_party": "none",
            "outcomes": "Stock-outs down 30%", "public_url": "https://partner.example.com/initech", "diagram": ""}
    chosen = {"in_production": "yes", "category": "stores", "public": "yes"}
    text.update({k: v for k, v in changes.items() if k in text})
    chosen.update({k: v for k, v in changes.items() if k in chosen})
    values = {name: {"value": {"type": "plain_text_input", "value": value}} for name, value in text.items()}
    values.update({name: {"value": {"type": "static_select", "selected_option": {"value": value} if value else None}}
                   for name, value in chosen.items()})
    values["production_date"] = {"value": {"type": "datepicker", "selected_date": changes.get("production_date",
                                                                                             "2026-02-01")}}
    values["diagram_file"] = {"value": {"type": "file_input", "files": changes.get("files", [])}}
    return values


def open_case_modal(server, slack_api) -> dict:
    before = len(slack_api.sent("views.open"))
    status, body = send_form(server, slash_command("case"))
    assert status == 200 and body == ""
    return slack_api.wait_for("views.open", before + 1)[before]["view"]


def test_the_case_modal_asks_every_field_within_block_kits_limits(started, server, slack_api):
    view = open_case_modal(server, slack_api)
    assert view["callback_id"] == "case_study_modal" and view["title"]["text"] == "Case study"
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["customer_name", "customer_website", "challenge", "deployment", "third_party",
                            "production_date", "in_production", "outcomes", "category", "public", "public_url",
                            "diagram", "diagram_file"]
    assert inputs["category"]["type"] == "static_select" and len(inputs["category"]["options"]) == 6
    assert [o["text"]["text"] for o in inputs["in_production"]["options"]] == ["In production",
                                                                               "Pilot or proof of concept"]
    assert inputs["production_date"]["type"] == "datepicker" and inputs["diagram_file"]["type"] == "file_input"
    assert len(view["blocks"]) <= 100 and len(view["private_metadata"]) <= 3000
    assert all(len(o["text"]["text"]) <= 75 for element in inputs.values() for o in element.get("options", []))


def test_a_bad_url_returns_field_errors_and_stores_nothing(started, server, slack_api, db, now):
    metadata = json.loads(open_case_modal(server, slack_api)["private_metadata"])
    values = case_values(customer_website="initech dot com", production_date="2099-01-01", category="")
    status, body = send_interaction(server, view_submission("case_study_modal", values, metadata))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {
        "customer_website": "This must be a full web address starting with http:// or https://, "
                            "e.g. https://www.example.com.",
        "production_date": "This date is in the future; a case study must already be in production.",
        "category": "This is required.",
    }
    assert case_studies.overview(db, started, now).case_studies == ()
    assert walks.load(db, started).answer("P2.1").status is None


def test_a_good_submission_stores_records_the_file_and_rederives(started, server, slack_api, db, now):
    metadata = json.loads(open_case_modal(server, slack_api)["private_metadata"])
    values = case_values(files=[DIAGRAM_FILE])
    status, body = send_interaction(server, view_submission("case_study_modal", values, metadata))
    assert status == 200 and body == ""
    stored = case_studies.overview(db, started, now).case_studies
    assert len(stored) == 1 and stored[0].customer_name == "Initech Stores" and stored[0].in_production is True
    assert stored[0].diagram_file_id == "F0DIAGRAM1" and stored[0].diagram == DIAGRAM_FILE["permalink"]
    assert walks.load(db, started).answer("P2.1").status == NOT_MET  # 1 of 4
    posted = [m for m in slack_api.wait_for("chat.postMessage", 2) if "Case study 1 saved." in m["text"]]
    assert posted and posted[0]["channel"] == "CTEAM"
    assert "P2.1: not met" in posted[0]["text"] and "Changed by <@UALICE>." in posted[0]["text"]


def test_cases_lists_findings_and_edit_opens_the_same_modal_prefilled(started, server, slack_api, db, now):
    metadata = json.loads(open_case_modal(server, slack_api)["private_metadata"])
    send_interaction(server, view_submission("case_study_modal", case_values(customer_name="<!channel> Foods"),
                                             metadata))
    status, body = send_form(server, slash_command("cases"))
    listed = json.loads(body)
    shown = texts(listed["blocks"])
    assert "1 of 4 case studies are complete" in shown and "no architecture diagram" in shown
    assert "<!channel>" not in shown and "&lt;!channel&gt; Foods" in shown
    edit = [b["accessory"] for b in listed["blocks"] if "accessory" in b]
    case_id = case_studies.overview(db, started, now).case_studies[0].id
    assert [(e["action_id"], e["value"]) for e in edit] == [("case_edit", f"{started}|{case_id}")]

    send_interaction(server, block_action("case_edit", edit[0]["value"]))
    view = slack_api.wait_for("views.open", 3)[2]["view"]  # after the start and the new-case modals
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["customer_name"]["initial_value"] == "<!channel> Foods"
    assert inputs["public"]["initial_option"]["value"] == "yes"
    assert inputs["production_date"]["initial_date"] == "2026-02-01"
    edited = case_values(customer_name="Initech Stores", public="no", public_url="")
    status, body = send_interaction(server, view_submission("case_study_modal", edited,
                                                            json.loads(view["private_metadata"])))
    assert status == 200 and body == ""
    stored = case_studies.overview(db, started, now).case_studies
    assert len(stored) == 1 and stored[0].public is False and stored[0].customer_name == "Initech Stores"
    fields = [(h.field, h.new_value, h.actor) for h in applications.history(db, started)]
    assert (f"case_study:{case_id}:public", "no", "UALICE") in fields


def test_a_non_member_cannot_edit(started, server, slack_api, db, now):
    metadata = json.loads(open_case_modal(server, slack_api)["private_metadata"])
    status, body = send_interaction(server, view_submission("case_study_modal", case_values(), metadata,
                                                            user="UMALLORY"))
    assert (json.loads(body)["errors"]["customer_name"]
            == "Only members of the application's channel can change its answers.")
    assert case_studies.overview(db, started, now).case_studies == ()


def test_documents_modal_records_the_uploaded_overall_diagram(started, server, slack_api, db, now):
    send_form(server, slash_command("documents"))
    view = slack_api.wait_for("views.open", 2)[1]["view"]
    assert view["callback_id"] == "documents_modal"
    assert [b["block_id"] for b in view["blocks"]] == ["link", "document_file"]
    assert "Whole-solution architecture diagram" in view["blocks"][0]["label"]["text"]
    metadata = json.loads(view["private_metadata"])
    empty = {"link": {"value": {"value": ""}}, "document_file": {"value": {"files": []}}}
    status, body = send_interaction(server, view_submission("documents_modal", empty, metadata))
    assert json.loads(body) == {"response_action": "errors", "errors": {"link": "This is required."}}
    upload = {"link": {"value": {"value": ""}}, "document_file": {"value": {"files": [
        {"id": "F0OVERALL", "permalink": "https://test.slack.com/files/UALICE/F0OVERALL/all.png"}]}}}
    status, body = send_interaction(server, view_submission("documents_modal", upload, metadata))
    assert status == 200 and body == ""
    documents = case_studies.overview(db, started, now).documents
    assert documents.overall_diagram_file_id == "F0OVERALL"
    assert documents.overall_diagram.endswith("/F0OVERALL/all.png")
    posted = slack_api.wait_for("chat.postMessage", 2)[-1]
    assert "Saved the whole-solution architecture diagram." in posted["text"]


def test_a_derived_item_has_no_answer_buttons_and_refuses_typed_answers(started, server, slack_api, db):
    send_form(server, slash_command("goto P2.1"))
    posted = slack_api.wait_for("chat.postMessage", 2)[1]
    buttons = [e["action_id"] for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["walk_back"]
    assert "answered from your case studies and documents" in texts(posted["blocks"])
    send_interaction(server, block_action("walk_met", f"{started}|P2.1"))
    refusal = slack_api.wait_for("chat.postMessage", 3)[2]
    assert "P2.1 is answered from your case studies and documents, not typed in" in texts(refusal["blocks"])
    assert "/competency case adds a case study" in texts(refusal["blocks"])
    assert walks.load(db, started).answer("P2.1").status is None


def test_help_lists_the_case_study_commands(started, server):
    _, body = send_form(server, slash_command("help"))
    assert "/competency case — add a case study" in body and "/competency documents" in body
