"""The case-study model and the seed's rules (P2.1, P2.2, D1, D2), without any database or adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from dateutil.relativedelta import relativedelta

from bot.render import render
from flows.application import EXPIRED, MET, NOT_MET
from flows.case_studies import (
    CaseStudy,
    Finding,
    SolutionDocuments,
    case_study_fields,
    check,
    derived_statuses,
    is_http_url,
    validate_case_study,
)
from flows.checklist import get_checklist

CHECKLIST = get_checklist()
TODAY = date(2026, 11, 28)
EIGHTEEN_MONTHS_AGO = date(2025, 5, 28)  # TODAY - 18 months: the last day that still counts
SAAS_DOCS = SolutionDocuments(overall_diagram="https://example.com/overall.png")
GUIDE_DOCS = SolutionDocuments(deployment_guide="https://example.com/guide.pdf")


def study(n: int = 1, **changes) -> CaseStudy:
    base = CaseStudy(
        customer_name=f"Customer {n}",
        customer_website=f"https://customer{n}.example.com",
        challenge="Checkout queues at peak hours",
        deployment="Serverless checkout on AWS Lambda",
        third_party="none",
        production_date=date(2026, 1, 15),
        in_production=True,
        outcomes="Queues down 40%",
        category="stores",
        public=n <= 2,
        public_url=f"https://partner.example.com/cases/{n}" if n <= 2 else "",
        diagram=f"https://example.com/diagram{n}.png",
    )
    return replace(base, **changes)


def four(**changes) -> list[CaseStudy]:
    return [study(n, **changes) for n in range(1, 5)]


def rules(assessment) -> list[str]:
    return [f.rule for f in assessment.findings]


def run(case_studies, documents=SAAS_DOCS, delivery="saas", today=TODAY, audit=None):
    return check(case_studies, documents, delivery, CHECKLIST, today, audit)


# --- the whole set ------------------------------------------------------------------


def test_four_good_case_studies_pass_every_rule():
    assessment = run(four())
    assert assessment.findings == ()
    assert assessment.ok == (True, True, True, True)
    c = assessment.counts
    assert (c.complete, c.valid_today, c.valid_on_audit, c.public_with_url) == (4, 4, 4, 2)
    assert derived_statuses(assessment, "saas") == {"P2.1": MET, "P2.2": MET, "D1": MET}


def test_window_comes_from_the_checklist_item():
    assert CHECKLIST.item("P2.1").max_age == {"months": 18}
    assert run(four()).window == {"months": 18}


# --- the 18-month window -------------------------------------------------------------


def test_exactly_eighteen_months_old_still_counts():
    assert EIGHTEEN_MONTHS_AGO + relativedelta(months=18) == TODAY
    assessment = run([study(1, production_date=EIGHTEEN_MONTHS_AGO), *four()[1:]])
    assert assessment.findings == ()
    assert assessment.results[0].valid_today and assessment.results[0].expires_on == TODAY


def test_eighteen_months_and_a_day_old_does_not_count():
    old = EIGHTEEN_MONTHS_AGO - relativedelta(days=1)
    assessment = run([study(1, production_date=old), *four()[1:]])
    too_old = [f for f in assessment.findings if f.rule == "too_old"]
    assert too_old == [
        Finding(
            "too_old",
            0,
            {
                "customer": "Customer 1",
                "production_date": old,
                "expires_on": TODAY - relativedelta(days=1),
                "window": {"months": 18},
            },
        )
    ]
    assert assessment.counts.valid_today == 3 and assessment.counts.complete == 4
    assert "too_few_case_studies" in rules(assessment)
    assert assessment.ok == (False, True, True, True)


def test_valid_today_but_too_old_by_the_target_audit_date():
    audit = date(2027, 3, 1)
    aging = study(3, production_date=date(2025, 8, 1))  # counts until 2027-02-01
    assessment = run([study(1), study(2), aging, study(4)], audit=audit)
    assert assessment.counts.valid_today == 4 and assessment.counts.valid_on_audit == 3
    assert rules(assessment) == ["too_few_by_audit", "too_old_by_audit"]
    by_audit = assessment.findings_for(2)[0]
    assert by_audit.params["expires_on"] == date(2027, 2, 1) and by_audit.params["audit_date"] == audit
    # Statuses are as of today: P2.1 is still met, the audit findings warn.
    assert derived_statuses(assessment, "saas")["P2.1"] == MET


def test_audit_date_on_its_last_day_is_still_fine_and_a_past_audit_date_adds_nothing():
    aging = study(3, production_date=date(2025, 8, 1))
    assert run([study(1), study(2), aging, study(4)], audit=date(2027, 2, 1)).findings == ()
    assert run([study(1), study(2), aging, study(4)], audit=date(2026, 1, 1)).findings == ()


def test_p21_expires_when_case_studies_only_aged_out():
    old = date(2024, 1, 1)
    assessment = run(four(production_date=old))
    assert assessment.counts.valid_today == 0 and assessment.counts.valid_ignoring_age == 4
    statuses = derived_statuses(assessment, "saas")
    assert statuses["P2.1"] == EXPIRED and statuses["P2.2"] == EXPIRED
    # One aged out, another incomplete: not expired but not met.
    mixed = [study(1, production_date=old), study(2, outcomes=""), study(3), study(4)]
    assert derived_statuses(run(mixed), "saas")["P2.1"] == NOT_MET


def test_three_of_four_complete():
    studies = four()
    studies[3] = replace(studies[3], challenge="", third_party="  ")
    assessment = run(studies)
    assert assessment.counts.complete == 3 and assessment.counts.valid_today == 3
    missing = assessment.findings_for(3)
    assert missing == [Finding("missing_fields", 3, {"customer": "Customer 4", "fields": ["challenge", "third_party"]})]
    assert assessment.findings_for(None)[0] == Finding(
        "too_few_case_studies", None, {"valid": 3, "complete": 3, "total": 4, "needed": 4}
    )
    assert derived_statuses(assessment, "saas")["P2.1"] == NOT_MET


def test_third_party_none_is_an_answer():
    assert run([study(1, third_party="none"), *four()[1:]]).findings == ()


def test_pilot_does_not_count_and_unanswered_is_missing():
    pilot = run([*four()[:3], study(4, in_production=False)])
    assert rules(pilot) == ["too_few_case_studies", "not_in_production"]
    unanswered = run([study(1, in_production=None), *four()[1:]])
    assert unanswered.findings_for(0)[0].params["fields"] == ["in_production"]
    assert unanswered.counts.complete == 3


def test_unknown_or_missing_category():
    unknown = run([study(1, category="groceries"), *four()[1:]])
    assert [f.rule for f in unknown.findings_for(0)] == ["unknown_category"]
    assert unknown.counts.valid_today == 3 and unknown.counts.complete == 4
    missing = run([study(1, category=""), *four()[1:]])
    assert missing.findings_for(0)[0].params["fields"] == ["category"]


def test_more_than_four_is_fine():
    assert run([*four(), study(5)]).counts.valid_today == 5


def test_bad_stored_website_makes_the_case_study_not_count():
    assessment = run([study(1, customer_website="customer1.example.com"), *four()[1:]])
    assert assessment.findings_for(0) == [
        Finding("invalid_field", 0, {"customer": "Customer 1", "field": "customer_website", "code": "not_url"})
    ]
    assert assessment.counts.valid_today == 3


# --- public case studies -----------------------------------------------------------------


def test_only_one_public():
    studies = four()
    studies[1] = replace(studies[1], public=False, public_url="")
    assessment = run(studies)
    assert rules(assessment) == ["too_few_public"]
    assert assessment.findings[0].params == {"public": 1, "needed": 2}
    assert derived_statuses(assessment, "saas") == {"P2.1": MET, "P2.2": NOT_MET, "D1": MET}


def test_public_without_url_does_not_count_as_public():
    studies = four()
    studies[1] = replace(studies[1], public_url="")
    assessment = run(studies)
    assert rules(assessment) == ["too_few_public", "public_without_url"]
    assert assessment.counts.public_with_url == 1


def test_public_ones_must_be_valid_to_count():
    studies = four()
    studies[0] = replace(studies[0], production_date=date(2024, 1, 1))
    studies.append(study(5))
    assessment = run(studies)
    assert assessment.counts.valid_today == 4 and assessment.counts.public_with_url == 1
    # The second public one only aged out: expired, like P2.1.
    assert derived_statuses(assessment, "saas")["P2.2"] == EXPIRED
    studies[0] = replace(studies[0], in_production=False)
    assert derived_statuses(run(studies), "saas")["P2.2"] == NOT_MET


# --- diagrams and the deployment guide ----------------------------------------------------


def test_saas_without_the_overall_diagram():
    assessment = run(four(), documents=SolutionDocuments())
    assert rules(assessment) == ["missing_overall_diagram"]
    assert derived_statuses(assessment, "saas")["D1"] == NOT_MET


def test_overall_diagram_as_an_uploaded_file():
    assert run(four(), documents=SolutionDocuments(overall_diagram_file_id="F0123")).findings == ()


def test_saas_does_not_need_a_guide():
    assessment = run(four(), documents=SAAS_DOCS, delivery="saas")
    assert "missing_deployment_guide" not in rules(assessment)
    assert "D2" not in derived_statuses(assessment, "saas")


def test_customer_deployed_without_a_guide():
    assessment = run(four(), documents=SolutionDocuments(), delivery="customer_deployed")
    assert rules(assessment) == ["missing_deployment_guide"]
    statuses = derived_statuses(assessment, "customer_deployed")
    assert statuses == {"P2.1": MET, "P2.2": MET, "D1": MET, "D2": NOT_MET}


def test_customer_deployed_with_a_guide_needs_no_overall_diagram():
    assessment = run(four(), documents=GUIDE_DOCS, delivery="customer_deployed")
    assert assessment.findings == ()
    assert derived_statuses(assessment, "customer_deployed")["D2"] == MET


def test_a_case_study_without_a_diagram():
    studies = four()
    studies[2] = replace(studies[2], diagram="")
    assessment = run(studies)
    assert rules(assessment) == ["missing_diagram"]
    assert assessment.ok == (True, True, False, True)
    assert derived_statuses(assessment, "saas")["D1"] == NOT_MET
    studies[2] = replace(studies[2], diagram_file_id="F42")
    assert derived_statuses(run(studies), "saas")["D1"] == MET


def test_no_case_studies_at_all():
    assessment = run([])
    assert rules(assessment) == ["too_few_case_studies", "too_few_public"]
    assert derived_statuses(assessment, "saas") == {"P2.1": NOT_MET, "P2.2": NOT_MET, "D1": NOT_MET}


# --- statuses follow changes -------------------------------------------------------------


def test_derived_statuses_flip_when_a_case_study_changes():
    studies = four()
    studies[3] = replace(studies[3], in_production=False)
    before = derived_statuses(run(studies), "saas")
    assert before["P2.1"] == NOT_MET
    studies[3] = replace(studies[3], in_production=True)
    assert derived_statuses(run(studies), "saas")["P2.1"] == MET
    studies[0] = replace(studies[0], public=False)
    assert derived_statuses(run(studies), "saas")["P2.2"] == NOT_MET
    studies[2] = replace(studies[2], public=True, public_url="https://partner.example.com/cases/3")
    assert derived_statuses(run(studies), "saas")["P2.2"] == MET


def test_statuses_expire_with_time():
    studies = four(production_date=date(2025, 6, 1))  # counts until 2026-12-01
    assert derived_statuses(run(studies, today=date(2026, 12, 1)), "saas")["P2.1"] == MET
    assert derived_statuses(run(studies, today=date(2026, 12, 2)), "saas")["P2.1"] == EXPIRED


# --- field validation ---------------------------------------------------------------------


def good_fields(**changes) -> dict[str, str]:
    return {**case_study_fields(study(1)), **changes}


def test_good_fields_round_trip():
    case_study, problems = validate_case_study(good_fields(), CHECKLIST, TODAY)
    assert problems == {} and case_study == study(1)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com", "http://", "https://", "http://exa mple.com",
                                 "mailto:a@b.c", "http://[::1"])
def test_bad_urls(url):
    assert not is_http_url(url)
    case_study, problems = validate_case_study(good_fields(customer_website=url, public_url=url), CHECKLIST, TODAY)
    assert case_study is None
    assert problems == {"customer_website": "not_url", "public_url": "not_url"}


@pytest.mark.parametrize("url", ["http://example.com", "https://www.example.com/a?b=c#d", "HTTPS://Example.com"])
def test_good_urls(url):
    assert is_http_url(url)


def test_future_and_unreadable_dates():
    future = validate_case_study(good_fields(production_date="2026-11-29"), CHECKLIST, TODAY)[1]
    assert future == {"production_date": "future"}
    unreadable = validate_case_study(good_fields(production_date="soon"), CHECKLIST, TODAY)[1]
    assert unreadable == {"production_date": "unreadable"}
    case_study, _ = validate_case_study(good_fields(production_date="2026年11月28日"), CHECKLIST, TODAY)
    assert case_study.production_date == TODAY


def test_missing_fields_on_submit_but_not_in_a_draft():
    fields = good_fields(challenge="", third_party=" ", in_production="")
    case_study, problems = validate_case_study(fields, CHECKLIST, TODAY)
    assert case_study is None
    assert problems == {"challenge": "required", "third_party": "required", "in_production": "required"}
    draft, problems = validate_case_study(fields, CHECKLIST, TODAY, submit=False)
    assert problems == {} and draft.challenge == "" and draft.in_production is None
    empty, problems = validate_case_study({}, CHECKLIST, TODAY)
    assert set(problems) == {
        "customer_name", "customer_website", "challenge", "deployment", "third_party",
        "production_date", "in_production", "outcomes", "category",
    }


def test_unknown_category_and_category_by_title():
    unknown = validate_case_study(good_fields(category="groceries"), CHECKLIST, TODAY)[1]
    assert unknown == {"category": "unknown_category"}
    case_study, _ = validate_case_study(good_fields(category="Supply Chain and Distribution"), CHECKLIST, TODAY)
    assert case_study.category == "supply_chain_distribution"
    case_study, _ = validate_case_study(good_fields(category="客户参与度"), CHECKLIST, TODAY)
    assert case_study.category == "customer_engagement"


def test_public_needs_a_url():
    problems = validate_case_study(good_fields(public="yes", public_url=""), CHECKLIST, TODAY)[1]
    assert problems == {"public_url": "public_needs_url"}
    assert validate_case_study(good_fields(public="no", public_url=""), CHECKLIST, TODAY)[1] == {}


def test_yes_no_fields():
    assert validate_case_study(good_fields(in_production="pilot"), CHECKLIST, TODAY)[0].in_production is False
    assert validate_case_study(good_fields(in_production="是"), CHECKLIST, TODAY)[0].in_production is True
    assert validate_case_study(good_fields(public="maybe"), CHECKLIST, TODAY)[1] == {"public": "not_yes_no"}


def test_too_long():
    problems = validate_case_study(
        good_fields(customer_name="x" * 201, outcomes="y" * 3001,
                    customer_website="https://a.example.com/" + "z" * 3000),
        CHECKLIST,
        TODAY,
    )[1]
    assert problems == {"customer_name": "too_long", "outcomes": "too_long", "customer_website": "too_long"}
    assert validate_case_study(good_fields(customer_name="x" * 200, outcomes="y" * 3000), CHECKLIST, TODAY)[1] == {}


# --- the templates -----------------------------------------------------------------------


def test_every_macro_renders_in_english():
    audit = date(2027, 3, 1)
    studies = [
        study(1, production_date=date(2024, 1, 1)),
        study(2, challenge="", in_production=None, public_url=""),
        study(3, customer_name="", in_production=False, category="groceries", diagram=""),
        study(4, production_date=date(2025, 8, 1), customer_website="customer4.example.com"),
    ]
    saas = run(studies, documents=SolutionDocuments(), audit=audit)
    deployed = run(four(), documents=SolutionDocuments(), delivery="customer_deployed")
    audit_short = run([study(1), study(2), study(3, production_date=date(2025, 8, 1)), study(4)], audit=audit)
    findings = saas.findings + deployed.findings + audit_short.findings
    seen = {f.rule for f in findings}
    assert seen == {
        "too_few_case_studies", "too_few_by_audit", "missing_fields", "invalid_field", "too_old",
        "too_old_by_audit", "not_in_production", "too_few_public", "public_without_url",
        "unknown_category", "missing_diagram", "missing_overall_diagram", "missing_deployment_guide",
    }
    texts = {}
    for f in findings:
        text = render("case_studies.j2", "finding", "en", f=f)
        assert text and f.rule not in text and "%(" not in text, (f.rule, text)
        texts.setdefault(f.rule, text)
    assert texts["too_old"] == (
        "Case study 1 (Customer 1) went into production on 1 Jan 2024, which is too long ago: "
        "it stopped counting after 1 Jul 2025. AWS only accepts deployments from the last 18 months."
    )
    assert texts["missing_fields"] == (
        "Case study 2 (Customer 2) is missing: the customer's challenge; "
        "whether it is in production (not a pilot or proof of concept)."
    )
    assert texts["unknown_category"].startswith("Case study 3 has the category \"groceries\"")
    assert "1 Feb 2027" in texts["too_old_by_audit"]
    # Slack style escapes what partners typed.
    tricky = run([study(1, customer_name="<!channel> & co", diagram="")])
    slack = render("case_studies.j2", "finding", "en", style="slack", f=tricky.findings_for(0)[0])
    assert "&lt;!channel&gt; &amp; co" in slack

    summary = render("case_studies.j2", "summary", "en", assessment=audit_short)
    assert summary.splitlines() == [
        "4 of 4 case studies are complete, in production and from the last 18 months (4 entered).",
        "2 of 2 public case studies with a link.",
        "On your target audit date (1 Mar 2027): 3 of 4 will still be recent enough.",
        "Whole-solution architecture diagram: provided.",
    ]
    done = render("case_studies.j2", "summary", "en",
                  assessment=run(four(), documents=GUIDE_DOCS, delivery="customer_deployed"))
    assert done.splitlines()[-2:] == [
        "Deployment guide: provided.",
        "Everything the checklist asks about case studies is in place.",
    ]

    errors = {
        code: render("case_studies.j2", "field_error", "en", code=code)
        for code in ("not_url", "future", "unreadable", "required", "unknown_category", "public_needs_url", "too_long",
                     "not_yes_no")
    }
    fallback = render("case_studies.j2", "field_error", "en", code="whatever")
    assert all(text and text != fallback for text in errors.values())
    assert len(set(errors.values())) == len(errors)
    assert "http://" in render("case_studies.j2", "field_error", "en", code="not_url")
