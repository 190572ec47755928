"""The self-assessment as one plain document, the source of every export format."""

from __future__ import annotations

from datetime import date

from flows.application import ApplicationState, effective_status
from flows.case_studies import CaseStudy, SolutionDocuments, case_study_fields
from flows.checklist import Checklist
from flows.progress import part_progress


def self_assessment(
    checklist: Checklist,
    state: ApplicationState,
    today: date,
    case_studies: tuple[CaseStudy, ...] = (),
    documents: SolutionDocuments = SolutionDocuments(),
) -> dict:
    """Every applicable item with its answer, in checklist order, grouped by part; then
    the case studies (fields in the seed's order) and the solution-wide documents."""
    language = state.language
    parts = []
    progress = {p.part: p for p in part_progress(checklist, state, today)}
    for part in checklist.parts:
        items = []
        for item in checklist.applicable_items(state.delivery_type):
            if item.part != part.id:
                continue
            answer = state.answer(item.id)
            items.append(
                {
                    "id": item.id,
                    "section": item.section.title(language),
                    "title": item.title(language),
                    "text": item.text(language),
                    "applies_to": list(item.applies_to),
                    "status": effective_status(answer, today),
                    "note": answer.note,
                    "answered_by": answer.answered_by,
                    "answered_at": answer.answered_at.isoformat() if answer.answered_at else None,
                    "assignee": answer.assignee,
                    "expires_on": answer.expires_on.isoformat() if answer.expires_on else None,
                    "evidence": [
                        {
                            "text": e.text,
                            "date": e.evidence_date.isoformat() if e.evidence_date else None,
                            "expires_on": e.expires_on.isoformat() if e.expires_on else None,
                            "added_by": e.added_by,
                        }
                        for e in answer.evidence
                    ],
                }
            )
        counts = progress[part.id]
        parts.append(
            {
                "id": part.id,
                "title": part.title(language),
                "applicable": counts.applicable,
                "answered": counts.answered,
                "met": counts.met,
                "items": items,
            }
        )
    return {
        "checklist": checklist.id,
        "checklist_title": checklist.title(language),
        "version": checklist.version,
        "partner": state.partner,
        "language": language,
        "delivery_type": state.delivery_type,
        "categories": [
            {"id": c, "title": checklist.category(c).title(language) if checklist.category(c) else c}
            for c in state.categories
        ],
        "target_audit_date": state.target_audit_date.isoformat() if state.target_audit_date else None,
        "as_of": today.isoformat(),
        "email_to": checklist.submission_email,
        "email_subject": checklist.email_subject(language).replace("{partner}", state.partner),
        "parts": parts,
        "case_studies": [case_study_fields(case_study) for case_study in case_studies],
        "documents": {
            "overall_diagram": documents.overall_diagram or documents.overall_diagram_file_id,
            "deployment_guide": documents.deployment_guide or documents.deployment_guide_file_id,
        },
    }
