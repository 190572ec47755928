"""Case studies and solution documents: rows to :mod:`flows.case_studies` values."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.case_studies import CaseStudy, SolutionDocuments
from storage import models


def to_case_study(row: models.CaseStudy) -> CaseStudy:
    return CaseStudy(
        customer_name=row.customer_name,
        customer_website=row.customer_website,
        challenge=row.challenge,
        deployment=row.deployment,
        third_party=row.third_party,
        production_date=row.production_date,
        in_production=row.in_production,
        outcomes=row.outcomes,
        category=row.category,
        public=row.public,
        public_url=row.public_url,
        diagram=row.diagram,
        diagram_file_id=row.diagram_file_id,
        id=row.id,
    )


def to_documents(row: models.Application) -> SolutionDocuments:
    return SolutionDocuments(
        overall_diagram=row.overall_diagram,
        overall_diagram_file_id=row.overall_diagram_file_id,
        deployment_guide=row.deployment_guide,
        deployment_guide_file_id=row.deployment_guide_file_id,
    )


def case_studies_by_application(session: Session, application_ids: Iterable[int]) -> dict[int, list[CaseStudy]]:
    """Every listed application's case studies in one query, oldest first."""
    ids = list(application_ids)
    found: dict[int, list[CaseStudy]] = {application_id: [] for application_id in ids}
    if not ids:
        return found
    rows = session.scalars(
        select(models.CaseStudy).where(models.CaseStudy.application_id.in_(ids)).order_by(models.CaseStudy.id)
    )
    for row in rows:
        found[row.application_id].append(to_case_study(row))
    return found
