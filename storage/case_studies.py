"""Case studies and solution documents: rows to :mod:`flows.case_studies` values, and the
services that store them. Every save re-judges the application's case studies and writes
the derived statuses of P2.1, P2.2, D1 and D2 through :func:`storage.applications._save`,
so the history says who changed which case study and what that did to each item.

Functions taking a ``Session`` are repository internals (leading underscore); the
public services take the :class:`~storage.db.Database`, one transaction each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from flows.application import ApplicationState
from flows.case_studies import (
    FIELDS,
    Assessment,
    CaseStudy,
    SolutionDocuments,
    case_study_fields,
    check,
    derived_statuses,
    with_derived_statuses,
)
from flows.checklist import get_checklist
from flows.evidence import local_today
from storage import applications, models
from storage.db import Database
from storage.errors import CaseStudyNotFound

__all__ = ["CaseStudyNotFound", "CaseStudyOverview", "add", "overview", "rederive", "set_document", "update"]


# The case study's fields are columns of the same names.
CASE_STUDY_FIELDS = tuple(field.name for field in fields(CaseStudy))


def _to_case_study(row: models.CaseStudy) -> CaseStudy:
    """From the ORM object (a plain row of :data:`CASE_STUDY_FIELDS` is ``CaseStudy(*row)``)."""
    return CaseStudy(**{name: getattr(row, name) for name in CASE_STUDY_FIELDS})


def _to_documents(row: Row) -> SolutionDocuments:
    return SolutionDocuments(
        overall_diagram=row.overall_diagram,
        overall_diagram_file_id=row.overall_diagram_file_id,
        deployment_guide=row.deployment_guide,
        deployment_guide_file_id=row.deployment_guide_file_id,
    )


def _case_studies_by_application(session: Session, application_ids: Iterable[int]) -> dict[int, list[CaseStudy]]:
    """Every listed application's case studies in one query, oldest first."""
    ids = list(application_ids)
    found: dict[int, list[CaseStudy]] = {application_id: [] for application_id in ids}
    if ids:
        found.update(_case_studies_where(session, models.CaseStudy.application_id.in_(ids)))
    return found


def _case_studies_where(session: Session, condition: ColumnElement[bool]) -> dict[int, list[CaseStudy]]:
    """The case studies of the applications matching ``condition`` (on either table), by
    application, oldest first; applications without any are left out."""
    return _case_studies_from(session.connection().execute(_case_studies_query(condition)).all())


def _case_studies_query(condition: ColumnElement[bool]) -> Select:
    """The rows of :func:`_case_studies_from`: each case study's application id and
    :data:`CASE_STUDY_FIELDS`, oldest first, for the applications matching ``condition``.
    Plain rows, not ORM objects: the digest reads thousands, and nothing here is written back."""
    table = models.CaseStudy.__table__
    return (select(table.c.application_id, *(table.c[name] for name in CASE_STUDY_FIELDS))
            .join(models.Application).where(condition).order_by(table.c.id))


def _case_studies_from(rows: Iterable[Row]) -> dict[int, list[CaseStudy]]:
    """:func:`_case_studies_query`'s rows (fetched at once: a digest reads tens of thousands,
    and one fetch each cost more) by application."""
    found: dict[int, list[CaseStudy]] = {}
    for application_id, *fields_in_order in rows:  # CASE_STUDY_FIELDS: CaseStudy's fields, in order
        found.setdefault(application_id, []).append(CaseStudy(*fields_in_order))
    return found


# --- unit-of-work services: the terminal and Slack call these, never the session ----------


@dataclass(frozen=True)
class CaseStudyOverview:
    """An application's case studies and documents, judged as of today."""

    state: ApplicationState
    case_studies: tuple[CaseStudy, ...]
    documents: SolutionDocuments
    assessment: Assessment

    @property
    def derived(self) -> dict[str, str]:
        return derived_statuses(self.assessment, self.state.delivery_type)

    def number_of(self, case_study_id: int) -> int:
        """The 1-based number people see and type (case edit N), oldest first."""
        return next(n for n, cs in enumerate(self.case_studies, 1) if cs.id == case_study_id)


def _overview(session: Session, state: ApplicationState, documents: SolutionDocuments,
              now: datetime) -> CaseStudyOverview:
    found = tuple(_case_studies_by_application(session, [state.id])[state.id])
    today = local_today(now, state.timezone)
    assessment = check(found, documents, state.delivery_type, get_checklist(*state.release_key), today,
                       state.target_audit_date)
    return CaseStudyOverview(state, found, documents, assessment)


def _settle(session: Session, before: ApplicationState, documents: SolutionDocuments, actor: str,
            now: datetime) -> CaseStudyOverview:
    """Re-run the rules and write the derived statuses through the answers (and so the history)."""
    judged = _overview(session, before, documents, now)
    after = with_derived_statuses(before, judged.derived, actor, now)
    stored = applications._save(session, before.id, before, after, actor, now)
    return replace(judged, state=stored)


def _load(session: Session, application_id: int, lock: bool = False) -> tuple[ApplicationState, SolutionDocuments]:
    state, row = applications._read_one(session, application_id, lock)
    return state, _to_documents(row)


def _record(session: Session, application_id: int, field: str, old: str, new: str, actor: str, now: datetime) -> None:
    session.add(models.HistoryEntry(application_id=application_id, field=field, old_value=old or None,
                                    new_value=new or None, actor=actor, at=now))


def _write(session: Session, row: models.CaseStudy, old: CaseStudy, new: CaseStudy, actor: str, now: datetime) -> None:
    """Store ``new`` on ``row``, each changed field also in the history as case_study:ID:NAME."""
    before, after = case_study_fields(old), case_study_fields(new)
    for name in FIELDS:
        setattr(row, name, getattr(new, name))
        if before[name] != after[name]:
            _record(session, row.application_id, f"case_study:{row.id}:{name}", before[name], after[name], actor, now)
    row.updated_at = now


def overview(db: Database, application_id: int, now: datetime) -> CaseStudyOverview:
    """Read only: what is stored, judged as of ``now``."""
    with db.session() as session:
        return _overview(session, *_load(session, application_id), now)


def rederive(db: Database, application_id: int, actor: str, now: datetime) -> CaseStudyOverview:
    """Judge again as of ``now`` and store the derived statuses (a case study may have aged out)."""
    with db.session() as session:
        return _settle(session, *_load(session, application_id, lock=True), actor, now)


def add(db: Database, application_id: int, case_study: CaseStudy, actor: str,
        now: datetime) -> tuple[CaseStudyOverview, int]:
    """Store a new case study; returns the overview and its number."""
    with db.session() as session:
        state, documents = _load(session, application_id, lock=True)
        row = models.CaseStudy(application_id=application_id, created_by=actor, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        _write(session, row, CaseStudy(), case_study, actor, now)
        session.flush()
        judged = _settle(session, state, documents, actor, now)
    return judged, judged.number_of(row.id)


def update(db: Database, application_id: int, case_study_id: int, case_study: CaseStudy, actor: str,
           now: datetime) -> tuple[CaseStudyOverview, int]:
    """Replace a stored case study's fields; returns the overview and its number."""
    with db.session() as session:
        state, documents = _load(session, application_id, lock=True)
        row = session.get(models.CaseStudy, case_study_id)
        if row is None or row.application_id != application_id:
            raise CaseStudyNotFound(case_study_id)
        _write(session, row, _to_case_study(row), case_study, actor, now)
        session.flush()
        judged = _settle(session, state, documents, actor, now)
    return judged, judged.number_of(case_study_id)


def set_document(db: Database, application_id: int, kind: str, link: str, file_id: str, actor: str,
                 now: datetime) -> CaseStudyOverview:
    """Store the whole-solution diagram or the deployment guide (``kind``): a link, a Slack file, or both."""
    with db.session() as session:
        state, documents = _load(session, application_id, lock=True)
        values = {}
        for column, value in ((kind, link), (f"{kind}_file_id", file_id)):
            old = getattr(documents, column)
            if old != value:
                values[column] = value
                _record(session, application_id, column, old, value, actor, now)
        if values:
            session.execute(sql_update(models.Application.__table__)
                            .where(models.Application.__table__.c.id == application_id).values(**values))
        session.flush()
        return _settle(session, state, replace(documents, **values), actor, now)
