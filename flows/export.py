"""The self-assessment as one plain document, the source of every export format."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flows.application import (
    EXPIRED,
    MET,
    NOT_APPLICABLE,
    NOT_MET,
    Answer,
    ApplicationState,
    effective_status,
)
from flows.case_studies import FIELDS, CaseStudy, SolutionDocuments, case_study_fields
from flows.checklist import DELIVERY_TYPES, Checklist, Item
from flows.evidence import zone
from flows.readiness import Readiness, readiness

# The seed's "met" column, and the choices the xlsx offers in it.
MET_YES = "yes"
MET_NO = "no"
MET_NA = "na"
MET_CHOICES = (MET_YES, MET_NO, MET_NA)
MAX_FILENAME_PARTNER = 80
# The case-study fields an export shows, in the seed's order; an uploaded diagram's file
# id stands in the diagram field when there is no link, as for the solution documents.
CASE_STUDY_COLUMNS = tuple(name for name in FIELDS if name != "diagram_file_id")
NO_DOCUMENTS = SolutionDocuments()


def self_assessment(
    checklist: Checklist,
    state: ApplicationState,
    today: date,
    case_studies: tuple[CaseStudy, ...] = (),
    documents: SolutionDocuments = NO_DOCUMENTS,
) -> dict:
    """Every applicable item with its answer, in checklist order, grouped by part (the
    items of the other delivery type apart, unanswered); then the case studies (fields
    in the seed's order) and the solution-wide documents."""
    language = state.language
    parts = []
    ready = readiness(checklist, state, case_studies, documents, today)
    progress = {p.part: p for p in ready.parts}
    for part in checklist.parts:
        rows = [
            _row(item, position, state, today)
            for position, item in enumerate(checklist.items)
            if item.part == part.id
        ]
        counts = progress[part.id]
        parts.append(
            {
                "id": part.id,
                "title": part.title(language),
                "applicable": counts.applicable,
                "answered": counts.answered,
                "met": counts.met,
                "items": [row for row in rows if row["applicable"]],
                # The seed's table lists every item with its SaaS / customer-deployed
                # columns, so the rows for the other delivery type are kept too.
                "not_applicable_items": [row for row in rows if not row["applicable"]],
            }
        )
    return {
        "checklist": checklist.id,
        "checklist_title": checklist.title(language),
        "version": checklist.version,
        "release": {
            "version": checklist.release, "published": checklist.published,
            "valid_from": checklist.valid_from.isoformat() if checklist.valid_from else None,
            "accepted_until": checklist.accepted_until.isoformat() if checklist.accepted_until else None,
        },
        "partner": state.partner,
        "language": language,
        "delivery_type": state.delivery_type,
        "categories": [{"id": c, "title": _category_title(checklist, c, language)} for c in state.categories],
        "target_audit_date": state.target_audit_date.isoformat() if state.target_audit_date else None,
        "as_of": today.isoformat(),
        "email_to": checklist.submission_email,
        "email_subject": checklist.email_subject(language).replace("{partner}", state.partner),
        "parts": parts,
        "readiness": _readiness(ready, language),
        "case_studies": [
            {
                **case_study_fields(case_study),
                "diagram": case_study.diagram or case_study.diagram_file_id,
                "category_title": _category_title(checklist, case_study.category, language),
            }
            for case_study in case_studies
        ],
        "documents": {
            "overall_diagram": documents.overall_diagram or documents.overall_diagram_file_id,
            "deployment_guide": documents.deployment_guide or documents.deployment_guide_file_id,
        },
    }


def _readiness(ready: Readiness, language: str) -> dict:
    """The cover's summary (:mod:`flows.readiness`): the verdict for the audit day, each
    part's counts as of today, and the blocking gaps — evidence that is met today but
    lapses before the audit apart, with its last valid day, as it needs new evidence
    rather than an answer."""
    return {
        "audit_day": ready.audit_day.isoformat(),
        "on_target": ready.audit_day != ready.today,  # False: no target ahead, judged as of today
        "ready": ready.ready,
        "past_acceptance": ready.past_acceptance,
        "gap_count": ready.gap_count,
        "parts": [
            {
                "id": p.part, "title": p.title(language), "applicable": p.applicable, "answered": p.answered,
                "met": p.met, "not_applicable": p.not_applicable, "not_met": p.not_met, "expired": p.expired,
                "skipped": p.skipped, "not_answered": p.applicable - p.answered - p.skipped,
            }
            for p in ready.parts
        ],
        "failing": [
            {"id": gap.item.id, "title": gap.item.title(language), "status": gap.status}
            for gap in ready.failing if gap.lapses_on is None
        ],
        "lapsing": [
            {"id": gap.item.id, "title": gap.item.title(language), "last_valid_day": gap.lapses_on.isoformat()}
            for gap in ready.failing if gap.lapses_on is not None
        ],
        "not_answered": list(ready.unanswered_ids),
        # Met but not signed off on the audit day; they block the verdict when sign-off is required.
        "unreviewed": [item.id for item in ready.unreviewed],
        "sign_off_required": ready.sign_off_required,
        "skipped": list(ready.skipped_ids),
        "case_study_findings": len(ready.case_study_gaps),
    }


def _category_title(checklist: Checklist, category_id: str, language: str) -> str:
    category = checklist.category(category_id)
    return category.title(language) if category else category_id


def _row(item: Item, position: int, state: ApplicationState, today: date) -> dict:
    """One line of the checklist table. An item that does not apply to the delivery type
    keeps no answer: the team is never asked it, so anything stored for it is stale."""
    language = state.language
    applicable = item.applies(state.delivery_type)
    answer = state.answer(item.id) if applicable else Answer()
    status = effective_status(answer, today)
    return {
        "id": item.id,
        "part": item.part,
        "position": position,
        "section": item.section.title(language),
        "title": item.title(language),
        "text": item.text(language),
        "applies_to": list(item.applies_to),
        "applies": {delivery_type: item.applies(delivery_type) for delivery_type in DELIVERY_TYPES},
        "applicable": applicable,
        "status": status,
        "met": _met(status, applicable),
        "note": answer.note,
        "answered_by": answer.answered_by,
        "answered_at": answer.answered_at.isoformat() if answer.answered_at else None,
        "assignee": answer.assignee,
        "expires_on": answer.expires_on.isoformat() if answer.expires_on else None,
        # The standing sign-off decision (flows.sign_off), or None.
        "sign_off": _sign_off(answer, state.timezone),
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


def _sign_off(answer: Answer, timezone: str) -> dict | None:
    """Who decided what on the item's evidence, on which day (the application's), and why."""
    review = answer.review
    if review is None:
        return None
    return {"reviewer": review.by, "decision": review.decision, "approved": review.approved,
            "date": review.at.astimezone(zone(timezone)).date().isoformat(), "reason": review.reason}


def _met(status: str | None, applicable: bool) -> str:
    """The seed's "met" column (是/否): expired evidence no longer meets the item, and an
    item left open (unanswered or skipped) stays blank for the team to decide."""
    if not applicable or status == NOT_APPLICABLE:
        return MET_NA
    if status == MET:
        return MET_YES
    if status in (NOT_MET, EXPIRED):
        return MET_NO
    return ""


def part_rows(part: dict) -> list[dict]:
    """Every item of one part of the document, applicable or not, in checklist order."""
    return sorted(part["items"] + part["not_applicable_items"], key=lambda row: row["position"])


def export_filename(partner: str, application_id: int, extension: str) -> str:
    """A file name for the application's export that is one plain name in whatever folder
    it is saved to: path separators, dots, control and reserved characters become dashes,
    so a partner named "../../etc/x" cannot point anywhere else. The application's id
    follows the name, as names that differ only there ("Acme/Retail", "Acme.Retail") are
    other applications."""
    return f"self-assessment-{safe_name(partner)}-{application_id}.{extension}"


def safe_name(partner: str) -> str:
    """The partner's name as one plain part of a file name (see :func:`export_filename`)."""
    normalised = unicodedata.normalize("NFKC", partner)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in normalised)
    return re.sub(r"-{2,}", "-", safe).strip("-_")[:MAX_FILENAME_PARTNER] or "partner"
