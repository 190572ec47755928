"""``competency-bot checklist``: the checklist as JSON or as readable text."""

from __future__ import annotations

from bot.render import render_file
from flows.checklist import Checklist


def checklist_json(checklist: Checklist, language: str) -> dict:
    return {
        "checklist": checklist.id,
        "version": checklist.version,
        "release": checklist.release,
        "published": checklist.published,
        "valid_from": checklist.valid_from.isoformat() if checklist.valid_from else None,
        "accepted_until": checklist.accepted_until.isoformat() if checklist.accepted_until else None,
        "language": language,
        "title": checklist.title(language),
        "email_subject": checklist.email_subject(language),
        "categories": [{"id": c.id, "title": c.title(language)} for c in checklist.categories],
        "delivery_types": [d.id for d in checklist.delivery_types],
        "items": [
            {
                "id": item.id,
                "part": item.part,
                "section": item.section.title(language),
                "title": item.title(language),
                "text": item.text(language),
                "evidence": item.evidence(language),
                "applies_to": list(item.applies_to),
                "max_age": item.max_age,
                "na_allowed": item.na_allowed,
                "needs_evidence": item.needs_evidence,
            }
            for item in checklist.items
        ],
    }


def checklist_text(checklist: Checklist, language: str) -> str:
    return render_file("checklist.txt.j2", language, checklist=checklist)
