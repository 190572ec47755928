"""The Well-Architected custom lens, both ways, checked against a JSON Schema written from
the format's published limits (docs.aws.amazon.com/wellarchitected, "Lens format
specification"): 10 pillars, 20 questions a pillar, 15 choices a question, 3 risk rules
with a default; ids of 3–128 letters, digits and underscores; names and titles of 128
characters, descriptions and resource texts of 2,048."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.application import MET, NOT_APPLICABLE, NOT_MET, Answer, ApplicationState, Evidence, effective_status
from flows.checklist import PARTS, Text, get_checklist, parse_checklist
from flows.lens import (
    ID_PATTERN,
    MAX_DESCRIPTION,
    MAX_NOTES,
    LensError,
    checklist_id,
    cut,
    export_lens,
    import_lens,
    lens_id,
    lens_problems,
    wa_answers,
)

LABELS = {"met": "Met", "none": "None of these", "evidence": "Evidence", "continued": "Requirement, continued",
          "release": "Release"}
IDENTIFIER = {"type": "string", "pattern": "^[A-Za-z0-9_]{3,128}$"}
RESOURCE = {"type": "object", "required": ["displayText"], "additionalProperties": False,
            "properties": {"displayText": {"type": "string", "minLength": 1, "maxLength": 2048},
                           "url": {"type": "string", "format": "uri"}}}
LENS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schemaVersion", "name", "pillars"],
    "additionalProperties": False,
    "properties": {
        "schemaVersion": {"const": "2021-11-01"},
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
        "description": {"type": "string", "maxLength": 2048},
        "pillars": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
            "type": "object", "required": ["id", "name", "questions"], "additionalProperties": False,
            "properties": {
                "id": IDENTIFIER,
                "name": {"type": "string", "minLength": 1, "maxLength": 128},
                "questions": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
                    "type": "object", "required": ["id", "title", "choices", "riskRules"],
                    "additionalProperties": False,
                    "properties": {
                        "id": IDENTIFIER,
                        "title": {"type": "string", "minLength": 1, "maxLength": 128},
                        "description": {"type": "string", "maxLength": 2048},
                        "choices": {"type": "array", "minItems": 1, "maxItems": 15, "items": {
                            "type": "object", "required": ["id", "title"], "additionalProperties": False,
                            "properties": {"id": IDENTIFIER, "title": {"type": "string", "minLength": 1,
                                                                       "maxLength": 128},
                                           "helpfulResource": RESOURCE, "improvementPlan": RESOURCE}}},
                        "riskRules": {"type": "array", "minItems": 1, "maxItems": 3,
                                      "contains": {"properties": {"condition": {"const": "default"}}},
                                      "items": {"type": "object", "required": ["condition", "risk"],
                                                "properties": {"condition": {"type": "string"},
                                                               "risk": {"enum": ["HIGH_RISK", "MEDIUM_RISK",
                                                                                 "LOW_RISK", "NO_RISK"]}}}},
                    }}},
            }}},
    },
}


def assert_a_valid_lens(lens: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(LENS_SCHEMA)
    jsonschema.validate(lens, LENS_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert len(json.dumps(lens).encode()) < 500_000  # the tool's size limit for a lens
    ids = [p["id"] for p in lens["pillars"]] + [q["id"] for p in lens["pillars"] for q in p["questions"]] + [
        c["id"] for p in lens["pillars"] for q in p["questions"] for c in q["choices"]]
    assert len(ids) == len(set(ids))
    for question in (q for p in lens["pillars"] for q in p["questions"]):
        assert question["choices"][-1]["id"] == question["id"] + "_no"  # "None of these"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_retail_checklist_exports_as_a_valid_lens(language):
    checklist = get_checklist()
    lens = export_lens(checklist, language, LABELS)
    assert_a_valid_lens(lens)
    assert [p["id"] for p in lens["pillars"]] == ["p_prerequisites", "p_documents", "p_technical",
                                                  "p2_technical", "p3_technical"]
    questions = [q for p in lens["pillars"] for q in p["questions"]]
    assert [checklist_id(q["id"]) for q in questions] == [item.id for item in checklist.items]
    t124 = next(q for q in questions if q["id"] == "q_T1_d24")
    assert t124["title"] == f"T1.24 {checklist.item('T1.24').title(language)}"
    assert t124["riskRules"] == [{"condition": "q_T1_d24_met", "risk": "NO_RISK"},
                                 {"condition": "default", "risk": "HIGH_RISK"}]


def test_a_requirement_over_the_limit_is_cut_at_a_word_and_kept_whole_in_a_helpful_resource():
    checklist = get_checklist()
    long_text = " ".join(f"word{n}" for n in range(600))  # 4,689 characters
    item = replace(checklist.item("T1.24"), text=Text(long_text, long_text))
    lens = export_lens(replace(checklist, items=(item,)), "en", LABELS)
    assert_a_valid_lens(lens)
    [question] = lens["pillars"][0]["questions"]
    shown = question["description"]
    continued = [choice["helpfulResource"]["displayText"] for choice in question["choices"]]
    assert len(shown) <= MAX_DESCRIPTION and shown.endswith("…") and shown[:-1].split()[-1].startswith("word")
    kept = " ".join([shown, *continued]).replace("Requirement, continued: ", "").replace("…", "")
    assert kept.split() == long_text.split()  # every word is somewhere, in order: nothing lost


def test_cut_keeps_short_text_and_cuts_chinese_at_a_sentence_mark():
    assert cut("short", 10) == ("short", "")
    shown, rest = cut("第一句话。第二句话很长很长很长。", 9)
    assert (shown, rest) == ("第一句话。…", "第二句话很长很长很长。")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=14))
def test_lens_ids_are_valid_and_reversible(identifier):
    encoded = lens_id("q", identifier)
    assert ID_PATTERN.match(encoded)
    assert checklist_id(encoded) == identifier


def test_any_other_lenss_ids_are_kept():
    assert checklist_id("security_q1") == "security_q1" and checklist_id("q_") == "q_"


def test_an_exported_lens_imports_back_into_a_checklist_the_bot_can_walk():
    checklist = get_checklist()
    texts = {"evidence": {"zh": "无", "en": "none"}, "email_subject": {"zh": "{partner}", "en": "{partner}"},
             "saas": {"zh": "SaaS", "en": "SaaS"}, "customer_deployed": {"zh": "客户部署", "en": "Customer"},
             **{part: {"zh": part, "en": part} for part in PARTS}}
    raw = import_lens(export_lens(checklist, "en", LABELS), "retail-lens", texts)
    imported = parse_checklist(json.loads(json.dumps(raw)), "retail-lens.toml")
    assert [item.id for item in imported.items] == [item.id for item in checklist.items]
    assert [item.part for item in imported.items] == [item.part for item in checklist.items]
    t124 = imported.item("T1.24")
    assert t124.title("en") == checklist.item("T1.24").title("en")
    assert t124.applies_to == ("saas", "customer_deployed") and t124.max_age is None and t124.na_allowed
    assert t124.answers == ()  # met / not met, as in the retail checklist


def lens_with(**changes) -> dict:
    question = {"id": "sec_q1", "title": "Do you rotate keys?", "description": "Rotation.",
                "choices": [{"id": "sec_q1_auto", "title": "Automatically"},
                            {"id": "sec_q1_manual", "title": "By hand"},
                            {"id": "sec_q1_no", "title": "None of these"}],
                "riskRules": [{"condition": "sec_q1_auto", "risk": "NO_RISK"},
                              {"condition": "default", "risk": "HIGH_RISK"}]}
    lens = {"schemaVersion": "2021-11-01", "name": "Security policy", "description": "Ours.",
            "pillars": [{"id": "security", "name": "Security", "questions": [question]}]}
    for path, value in changes.items():
        target = lens
        *steps, last = path.split(".")
        for step in steps:
            target = target[int(step)] if step.isdigit() else target[step]
        target[int(last) if last.isdigit() else last] = value
    return lens


def test_another_lens_keeps_its_choices():
    texts = {"evidence": {"zh": "无", "en": "none"}, "email_subject": {"zh": "{partner}", "en": "{partner}"},
             "saas": {"zh": "SaaS", "en": "SaaS"}, "customer_deployed": {"zh": "客户部署", "en": "Customer"},
             **{part: {"zh": part, "en": part} for part in PARTS}}
    imported = parse_checklist(import_lens(lens_with(), "policy", texts), "policy.toml")
    [item] = imported.items
    assert (item.id, item.section.id, item.part) == ("sec_q1", "security", "technical")
    assert [(choice.id, choice.title("en")) for choice in item.answers] == [
        ("sec_q1_auto", "Automatically"), ("sec_q1_manual", "By hand")]


def test_an_invalid_lens_gets_a_problem_per_field_with_its_limit():
    lens = lens_with(**{"pillars.0.questions.0.title": "x" * 129, "pillars.0.id": "s!",
                        "pillars.0.questions.0.riskRules": [{"condition": "sec_q1_auto", "risk": "NO_RISK"}]})
    lens["pillars"] = lens["pillars"] * 11
    problems = {(p.field, p.problem, p.limit) for p in lens_problems(lens)}
    assert ("pillars", "too_many", 10) in problems
    assert ("pillars[0].id", "bad_id", "3–128 [A-Za-z0-9_]") in problems
    assert ("pillars[0].questions[0].title", "too_long", 128) in problems
    assert ("pillars[0].questions[0].riskRules", "no_default_rule", "") in problems
    assert ("pillars[1].questions[0].id", "duplicate_id", "") in problems
    with pytest.raises(LensError):
        import_lens(lens, "bad", {})
    assert lens_problems(lens_with()) == []
    assert [p.field for p in lens_problems(lens_with(schemaVersion="2020-01-01"))] == ["schemaVersion"]


def test_answers_take_the_shape_of_update_answer():
    checklist = get_checklist()
    drill = Evidence("https://wiki/drill " + "x" * 3000, date(2026, 3, 1), date(2027, 3, 1))
    state = ApplicationState(partner="Acme", delivery_type="customer_deployed", checklist_id=checklist.id,
                             answers={"P1.1": Answer(MET, note="read it"), "T1.24": Answer(MET, evidence=(drill,)),
                                      "P4.3": Answer(NOT_APPLICABLE), "P1.2": Answer(NOT_MET)})
    today = date(2026, 11, 28)
    requests = {r["QuestionId"]: r for r in wa_answers(checklist, state, lambda a: effective_status(a, today))}
    assert requests["q_P1_d1"] == {"WorkloadId": "WORKLOAD_ID", "LensAlias": "LENS_ARN", "QuestionId": "q_P1_d1",
                                   "IsApplicable": True, "SelectedChoices": ["q_P1_d1_met"], "Notes": "read it"}
    assert requests["q_P1_d2"]["SelectedChoices"] == ["q_P1_d2_no"]
    assert requests["q_P4_d3"]["IsApplicable"] is False and requests["q_P4_d3"]["Reason"] == "OUT_OF_SCOPE"
    # T1.24 is SaaS only: for a customer-deployed solution it does not apply, whatever was stored
    assert requests["q_T1_d24"]["IsApplicable"] is False
    assert "q_P1_d3" not in requests  # not answered: nothing to replay
    saas = wa_answers(checklist, replace(state, delivery_type="saas"), lambda a: effective_status(a, today))
    notes = next(r for r in saas if r["QuestionId"] == "q_T1_d24")["Notes"]
    assert len(notes) <= MAX_NOTES and notes.startswith("https://wiki/drill")


def test_a_requirement_too_long_even_for_the_resources_is_refused_naming_the_item():
    checklist = get_checklist()
    endless = " ".join(f"word{n}" for n in range(1200))
    item = replace(checklist.item("T1.24"), text=Text(endless, endless))
    with pytest.raises(LensError) as refused:
        export_lens(replace(checklist, items=(item,)), "en", LABELS)
    assert [(p.field, p.problem, p.limit) for p in refused.value.problems] == [("T1.24 text", "too_long", 2048)]
