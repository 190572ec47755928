"""The terminal's case-study commands, run as a subprocess with piped input; and the pure
parts under them: the walk's derived items and the field-by-field capture."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from bot.render import render
from flows.application import MET, ApplicationState
from flows.case_capture import capture_step, parse_case_command, start_capture
from flows.checklist import ChecklistError, get_checklist, parse_checklist
from flows.walk import handle
from tests.support.cli import bot

CASE_STUDY = [
    "case",
    "Acme Foods",
    "acme.example.com",  # not an http(s) URL: asked again
    "https://acme.example.com",
    "Queues at checkout",
    "Serverless checkout",
    "none",
    "2099-01-01",  # in the future: asked again
    "2026-01-15",
    "pilot",
    "Queues down 40%",
    "4",
    "yes",
    "https://partner.example.com/acme",
    "https://example.com/acme-diagram.png",
]


def test_a_case_study_typed_in_the_terminal_is_checked_saved_and_exported(database_url):
    lines = CASE_STUDY + ["case check", "goto P2.1", "yes", "case edit 1", "", "", "", "", "", "",
                          "yes", "", "", "", "", "", "document guide https://example.com/guide.pdf"]
    run = bot(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores",
              "--lang", "en", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "customer website: This must be a full web address starting with http:// or https://" in out
    first = out[: out.index("Case study 1 saved.")]
    assert first.count("Customer website (starting with http:// or https://)?") == 2
    assert "date it went into production: This date is in the future" in out
    assert "Case study 1 saved." in out
    assert "Case study 1 (Acme Foods) is a pilot or proof of concept." in out
    assert "0 of 4 case studies are complete, in production and from the last 18 months (1 entered)." in out
    assert "A SaaS solution also needs one architecture diagram of the whole solution." in out
    assert "P2.1 is answered from your case studies and documents, not typed in, so nothing was recorded." in out
    assert "(now: Acme Foods; Enter keeps it)" in out
    assert "Case study 1 updated." in out and "This case study meets every rule." in out
    assert "A SaaS solution does not need a deployment guide, so nothing was saved." in out

    exported = json.loads(bot(database_url, "export", "--partner", "Acme", "--format", "json").stdout)
    [case_study] = exported["case_studies"]
    assert case_study["customer_website"] == "https://acme.example.com"
    assert case_study["in_production"] == "yes" and case_study["category"] == "stores"
    items = {i["id"]: i for part in exported["parts"] for i in part["items"]}
    assert items["P2.1"]["status"] == "not_met" and items["P2.1"]["answered_by"] == "tester"
    markdown = bot(database_url, "export", "--partner", "Acme", "--format", "md").stdout
    assert "### Case study 1: Acme Foods" in markdown
    assert "| Customer website | <https://acme.example.com> |" in markdown


def test_end_of_input_half_way_saves_nothing(database_url):
    run = bot(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores",
              "--lang", "en", stdin="case\nAcme Foods\nhttps://acme.example.com\n")
    assert run.returncode == 0, run.stderr
    # One goodbye that says what was not saved, not "nothing was saved" and "Everything is saved".
    assert "Case study 1 was not saved: it stopped before its last field. Everything else is saved" in run.stdout
    assert "Everything is saved." not in run.stdout
    listed = bot(database_url, "chat", "--partner", "Acme", stdin="case list\n")
    assert "No case studies yet." in listed.stdout


# --- the pure parts under the terminal: the walk's derived items and the capture steps ---

CHECKLIST = get_checklist()
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def test_the_checklist_marks_the_derived_items_and_rejects_unknown_sources():
    assert [i.id for i in CHECKLIST.items if i.derived_from == "case_studies"] == ["P2.1", "P2.2", "D1", "D2"]
    raw = {"id": "x", "version": "1", "title": {"zh": "x", "en": "x"}, "email_subject": {"zh": "x", "en": "x"},
           "submission_email": "x", "categories": [],
           "delivery_types": [{"id": d, "title": {"zh": d, "en": d}, "description": {"zh": d, "en": d}}
                              for d in ("saas", "customer_deployed")],
           "parts": [{"id": p, "title": {"zh": p, "en": p}} for p in ("prerequisites", "documents", "technical")],
           "sections": [{"id": "S", "part": "documents", "title": {"zh": "s", "en": "s"}}],
           "items": [{"id": "D9", "section": "S", "title": {"zh": "t", "en": "t"}, "text": {"zh": "t", "en": "t"},
                      "evidence": {"zh": "e", "en": "e"}, "applies_to": ["saas"], "needs_evidence": True,
                      "na_allowed": False, "derived_from": "spreadsheets"}]}
    with pytest.raises(ChecklistError) as refused:
        parse_checklist(raw, "test.toml")
    assert render("releases.j2", "checklist_problem", "en", error=refused.value) == (
        "test.toml: item D9, field derived_from: must be one of case_studies")


def test_the_walk_passes_derived_items_with_their_status_and_refuses_answers():
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id, language="en",
                             cursor="P1.4")
    outcome = handle(CHECKLIST, state, "yes", "alice", NOW)
    outcome = handle(CHECKLIST, outcome.state, "https://example.com/customers", "alice", NOW)
    said = [(m.name, m.params["item"].id) for m in outcome.messages if "item" in m.params]
    assert said[-3:] == [("derived", "P2.1"), ("derived", "P2.2"), ("item", "P3.1")]
    for word in ("yes", "no", "skip", "evidence https://x.example.com"):
        at_p21 = handle(CHECKLIST, outcome.state, "goto P2.1", "alice", NOW).state
        refused = handle(CHECKLIST, at_p21, word, "alice", NOW)
        assert refused.messages[0].name == "derived_refused"
        assert refused.state.answer("P2.1") == at_p21.answer("P2.1") and refused.state.cursor == "P3.1"
    assert outcome.state.answer("P1.4").status == MET


def test_the_capture_asks_again_until_the_value_is_good():
    step = start_capture(CHECKLIST, 1)
    assert [m.name for m in step.messages] == ["capture_started", "ask_field"]
    step = capture_step(step.capture, "Acme", CHECKLIST, date(2026, 11, 28))
    step = capture_step(step.capture, "ftp://acme.example.com", CHECKLIST, date(2026, 11, 28))
    assert [(m.name, m.params.get("code")) for m in step.messages] == [("field_problem", "not_url"),
                                                                         ("ask_field", None)]
    assert step.capture.asking == "customer_website" and step.case_study is None
    assert capture_step(step.capture, "取消", CHECKLIST, date(2026, 11, 28)).capture is None


def test_case_commands_take_only_their_exact_forms():
    assert parse_case_command("Case  List").name == "list"
    assert parse_case_command("案例编辑2").argument == "2"
    assert parse_case_command("document guide https://x.example.com").kind == "deployment_guide"
    assert parse_case_command("case study on our wiki") is None  # evidence text reaches the walk
