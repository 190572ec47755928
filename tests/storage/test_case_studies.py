"""The case-study services: each rule at its boundary through what is stored, derived
statuses written through the answers, and every change in the history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.exports import render_export
from flows.application import EXPIRED, MET, NOT_MET, ApplicationState
from flows.case_studies import DEPLOYMENT_GUIDE, OVERALL_DIAGRAM, CaseStudy
from storage import applications, case_studies, walks

TODAY = date(2026, 11, 28)  # the conftest's ``now``
EIGHTEEN_MONTHS_AGO = date(2025, 5, 28)  # the last production date that still counts today


def new_application(db, now, delivery="saas"):
    return walks.start(
        db,
        ApplicationState(partner="Acme Retail", delivery_type=delivery, checklist_id="aws-retail-competency",
                         categories=("stores",), language="en"),
        actor="alice", now=now,
    )


def study(n: int, **changes) -> CaseStudy:
    return replace(CaseStudy(
        customer_name=f"Customer {n}", customer_website=f"https://customer{n}.example.com",
        challenge="Checkout queues", deployment="Serverless checkout", third_party="none",
        production_date=date(2026, 1, 15), in_production=True, outcomes="Queues down 40%", category="stores",
        public=n <= 2, public_url=f"https://partner.example.com/cases/{n}" if n <= 2 else "",
        diagram=f"https://example.com/diagram{n}.png",
    ), **changes)


def add_four(db, application_id, now, **changes):
    for n in range(1, 5):
        overview, number = case_studies.add(db, application_id, study(n, **changes), "alice", now)
        assert number == n
    return overview


def statuses(db, application_id):
    state = walks.load(db, application_id)
    return {item: state.answer(item).status for item in ("P2.1", "P2.2", "D1", "D2")}


def history(db, application_id):
    return [(h.item_id, h.field, h.old_value, h.new_value, h.actor)
            for h in applications.history(db, application_id)]


def test_four_good_case_studies_and_the_overall_diagram_meet_p21_p22_d1(db, now):
    state = new_application(db, now)
    add_four(db, state.id, now)
    assert statuses(db, state.id) == {"P2.1": MET, "P2.2": MET, "D1": NOT_MET, "D2": None}
    overview = case_studies.set_document(db, state.id, OVERALL_DIAGRAM, "https://example.com/all.png", "", "bob", now)
    assert overview.assessment.passed
    assert statuses(db, state.id)["D1"] == MET
    assert ("D1", "status", "not_met", "met", "bob") in history(db, state.id)


def test_exactly_18_months_counts_and_one_day_more_expires(db, now):
    state = new_application(db, now)
    overview = add_four(db, state.id, now, production_date=EIGHTEEN_MONTHS_AGO)
    assert statuses(db, state.id)["P2.1"] == MET
    day_older = study(4, production_date=date(2025, 5, 27))
    overview, _ = case_studies.update(db, state.id, overview.case_studies[3].id, day_older, "bob", now)
    assert statuses(db, state.id)["P2.1"] == EXPIRED  # it had four; only time ran out
    assert [f.rule for f in overview.assessment.findings_for(3)] == ["too_old"]


def test_three_of_four_complete_is_not_met(db, now):
    state = new_application(db, now)
    overview = add_four(db, state.id, now)
    case_studies.update(db, state.id, overview.case_studies[3].id, study(4, outcomes=""), "alice", now)
    overview = case_studies.overview(db, state.id, now)
    assert overview.assessment.counts.complete == 3
    assert statuses(db, state.id)["P2.1"] == NOT_MET
    missing = [f.params["fields"] for f in overview.assessment.findings_for(3) if f.rule == "missing_fields"]
    assert missing == [["outcomes"]]


def test_one_public_case_study_is_not_enough_for_p22(db, now):
    state = new_application(db, now)
    overview = add_four(db, state.id, now)
    case_studies.update(db, state.id, overview.case_studies[1].id, study(2, public=False, public_url=""), "alice", now)
    assert statuses(db, state.id)["P2.2"] == NOT_MET
    assert "too_few_public" in [f.rule for f in case_studies.overview(db, state.id, now).assessment.findings]


def test_saas_without_the_overall_diagram_fails_d1(db, now):
    state = new_application(db, now)
    overview = add_four(db, state.id, now)
    assert "missing_overall_diagram" in [f.rule for f in overview.assessment.findings]
    assert statuses(db, state.id)["D1"] == NOT_MET


def test_customer_deployed_needs_a_guide_not_an_overall_diagram(db, now):
    state = new_application(db, now, delivery="customer_deployed")
    overview = add_four(db, state.id, now)
    rules = [f.rule for f in overview.assessment.findings]
    assert "missing_deployment_guide" in rules and "missing_overall_diagram" not in rules
    assert statuses(db, state.id) == {"P2.1": MET, "P2.2": MET, "D1": MET, "D2": NOT_MET}
    case_studies.set_document(db, state.id, DEPLOYMENT_GUIDE, "https://example.com/guide.pdf", "F0GUIDE", "bob", now)
    assert statuses(db, state.id)["D2"] == MET
    entries = history(db, state.id)
    assert (None, "deployment_guide", None, "https://example.com/guide.pdf", "bob") in entries
    assert (None, "deployment_guide_file_id", None, "F0GUIDE", "bob") in entries


def test_editing_a_case_study_rederives_and_writes_history(db, now):
    state = new_application(db, now)
    overview = add_four(db, state.id, now)
    first = overview.case_studies[0]
    assert statuses(db, state.id)["P2.2"] == MET
    case_studies.update(db, state.id, first.id, replace(first, public=False, public_url=""), "bob", now)
    assert statuses(db, state.id)["P2.2"] == NOT_MET
    entries = history(db, state.id)
    assert (None, f"case_study:{first.id}:public", "yes", "no", "bob") in entries
    assert (None, f"case_study:{first.id}:public_url", "https://partner.example.com/cases/1", None, "bob") in entries
    assert ("P2.2", "status", "met", "not_met", "bob") in entries
    assert (None, f"case_study:{first.id}:customer_name", None, "Customer 1", "alice") in entries


def test_editing_another_applications_case_study_is_refused(db, now):
    state = new_application(db, now)
    other = walks.start(db, ApplicationState(partner="Globex", delivery_type="saas",
                                             checklist_id="aws-retail-competency"), actor="x", now=now)
    case_studies.add(db, other.id, study(1), "x", now)
    foreign = case_studies.overview(db, other.id, now).case_studies[0].id
    with pytest.raises(case_studies.CaseStudyNotFound):
        case_studies.update(db, state.id, foreign, study(9), "alice", now)


def test_export_markdown_lays_out_the_case_studies(db, now):
    state = new_application(db, now)
    add_four(db, state.id, now)
    markdown = render_export(db, walks.load(db, state.id), "md", now)
    assert "## Case studies" in markdown
    assert "### Case study 1: Customer 1" in markdown
    assert "| Customer website | <https://customer1.example.com> |" in markdown
    assert "| Date it went into production | 2026-01-15 |" in markdown
    assert "| Link to the public case study | <https://partner.example.com/cases/1> |" in markdown
    assert "A SaaS solution also needs one architecture diagram of the whole solution." in markdown
    assert "| Architecture diagram of the whole solution | — |" in markdown
