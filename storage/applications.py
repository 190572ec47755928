"""Applications repository: rows to :class:`flows.application.ApplicationState` and back.

Saving compares the state before and after a step of the engine and writes each
difference to its row and to the append-only history, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, joinedload, selectinload

from flows import application as domain
from storage import models


class ApplicationNotFound(LookupError):
    pass


def partner_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def to_state(row: models.Application | Row, answers: dict[str, domain.Answer] | None = None) -> domain.ApplicationState:
    """From the ORM object, or from a plain row of its table with ``answers`` built by the
    caller (the digest reads every application's at once)."""
    if answers is None:
        answers = {
            answer.item_id: domain.Answer(
                status=answer.status,
                note=answer.note,
                answered_by=answer.answered_by,
                answered_at=answer.answered_at,
                assignee=answer.assignee,
                evidence=tuple(
                    domain.Evidence(
                        text=e.text,
                        evidence_date=e.evidence_date,
                        expires_on=e.expires_on,
                        added_by=e.added_by,
                        added_at=e.added_at,
                        id=e.id,
                    )
                    for e in answer.evidence
                ),
            )
            for answer in row.answers
        }
    pending = domain.Pending(**row.pending) if row.pending else None
    return domain.ApplicationState(
        id=row.id,
        partner=row.partner_name,
        delivery_type=row.delivery_type,
        checklist_id=row.checklist_id,
        categories=tuple(row.categories or ()),
        language=row.language,
        target_audit_date=row.target_audit_date,
        timezone=row.timezone,
        cursor=row.cursor_item,
        pending=pending,
        finished=row.finished,
        answers=answers,
        pdm_channel=row.pdm_channel_id,
        lead_times=tuple(row.lead_times) if row.lead_times is not None else None,
    )


def _query():
    return select(models.Application).options(
        selectinload(models.Application.answers).selectinload(models.Answer.evidence)
    )


def _one_query(application_id: int, lock: bool):  # noqa: ANN202
    """One application with its answers and evidence in a single statement (joins),
    locked when asked: this is the hot path of every answer."""
    statement = (
        select(models.Application)
        .options(joinedload(models.Application.answers).joinedload(models.Answer.evidence))
        .where(models.Application.id == application_id)
    )
    if lock:
        # Serialises concurrent steps on one application (several web processes).
        statement = statement.with_for_update(of=models.Application)
    return statement


def load_row(session: Session, application_id: int, lock: bool = False) -> models.Application:
    row = session.scalars(_one_query(application_id, lock)).unique().one_or_none()
    if row is None:
        raise ApplicationNotFound(application_id)
    return row


def load_row_for_member(
    session: Session, application_id: int, team_id: str, user_id: str, lock: bool = False
) -> tuple[models.Application, bool]:
    """The application (as :func:`load_row`) and whether the user is a member of its
    channel in its workspace, in the same statement."""
    member = (
        select(models.ChannelMember.user_id)
        .where(models.ChannelMember.team_id == models.Application.team_id,
               models.ChannelMember.channel_id == models.Application.channel_id,
               models.ChannelMember.user_id == user_id)
        .exists()
    )
    statement = _one_query(application_id, lock).add_columns(member)
    found = session.execute(statement).unique().one_or_none()
    if found is None:
        raise ApplicationNotFound(application_id)
    row, is_member = found
    return row, bool(is_member) and row.team_id == team_id


def load_state(session: Session, application_id: int, lock: bool = False) -> domain.ApplicationState:
    return to_state(load_row(session, application_id, lock))


def find_by_partner(session: Session, partner: str, team_id: str | None = None) -> domain.ApplicationState | None:
    """The partner's application; in any workspace when ``team_id`` is None (terminal, exports)."""
    statement = _query().where(models.Application.partner_key == partner_key(partner))
    if team_id is not None:
        statement = statement.where(models.Application.team_id == team_id)
    row = session.scalars(statement.order_by(models.Application.id).limit(1)).first()
    return to_state(row) if row else None


def find_by_channel(session: Session, team_id: str, channel_id: str) -> list[domain.ApplicationState]:
    rows = session.scalars(
        _query()
        .where(models.Application.team_id == team_id, models.Application.channel_id == channel_id)
        .order_by(models.Application.id)
    ).all()
    return [to_state(row) for row in rows]


def create(
    session: Session,
    state: domain.ApplicationState,
    actor: str,
    now: datetime,
    team_id: str = "",
    channel_id: str = "",
) -> domain.ApplicationState:
    row = models.Application(
        checklist_id=state.checklist_id,
        team_id=team_id,
        channel_id=channel_id,
        partner_name=state.partner,
        partner_key=partner_key(state.partner),
        delivery_type=state.delivery_type,
        categories=list(state.categories),
        language=state.language,
        target_audit_date=state.target_audit_date,
        timezone=state.timezone,
        pdm_channel_id=state.pdm_channel,
        lead_times=list(state.lead_times) if state.lead_times is not None else None,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.add(
        models.HistoryEntry(
            application_id=row.id, field="created", new_value=state.partner, actor=actor, at=now
        )
    )
    session.flush()
    return replace(state, id=row.id)


def _days(value: tuple[int, ...] | None) -> str | None:
    return None if value is None else ",".join(str(days) for days in value)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def save(
    session: Session,
    row: models.Application,
    before: domain.ApplicationState,
    after: domain.ApplicationState,
    actor: str,
    now: datetime,
) -> domain.ApplicationState:
    """Write what changed between ``before`` and ``after``; returns the stored state."""
    history: list[models.HistoryEntry] = []

    def record(item_id: str | None, field: str, old: object, new: object) -> None:
        history.append(
            models.HistoryEntry(
                application_id=row.id,
                item_id=item_id,
                field=field,
                old_value=_text(old),
                new_value=_text(new),
                actor=actor,
                at=now,
            )
        )

    for field in ("partner", "delivery_type", "language", "target_audit_date", "timezone"):
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            setattr(row, "partner_name" if field == "partner" else field, new)
            if field == "partner":
                row.partner_key = partner_key(new)
            record(None, field, old, new)
    if before.pdm_channel != after.pdm_channel:
        row.pdm_channel_id = after.pdm_channel
        record(None, "pdm_channel", before.pdm_channel, after.pdm_channel)
    if before.lead_times != after.lead_times:
        row.lead_times = list(after.lead_times) if after.lead_times is not None else None
        record(None, "lead_times", _days(before.lead_times), _days(after.lead_times))
    if before.categories != after.categories:
        row.categories = list(after.categories)
        record(None, "categories", ",".join(before.categories), ",".join(after.categories))
    row.cursor_item = after.cursor
    row.pending = (
        {"item_id": after.pending.item_id, "awaiting": after.pending.awaiting} if after.pending else None
    )
    row.finished = after.finished
    row.updated_at = now

    answer_rows = {answer.item_id: answer for answer in row.answers}
    for item_id, new_answer in after.answers.items():
        old_answer = before.answer(item_id)
        if new_answer == old_answer:
            continue
        answer_row = answer_rows.get(item_id)
        if answer_row is None:
            answer_row = models.Answer(item_id=item_id, note="", answered_by="", assignee="", evidence=[])
            row.answers.append(answer_row)
        for field in ("status", "note", "assignee"):
            old, new = getattr(old_answer, field), getattr(new_answer, field)
            if old != new:
                setattr(answer_row, field, new)
                record(item_id, field, old, new)
        answer_row.answered_by = new_answer.answered_by
        answer_row.answered_at = new_answer.answered_at
        _save_evidence(answer_row, old_answer, new_answer, record, now)
    session.add_all(history)
    session.flush()
    return to_state(row)


def _save_evidence(answer_row, old_answer, new_answer, record, now) -> None:  # noqa: ANN001
    """Evidence is only ever added or dated; a state never drops stored evidence."""
    stored = list(answer_row.evidence)
    for index, evidence in enumerate(new_answer.evidence):
        if index < len(stored):
            evidence_row = stored[index]
            if evidence_row.evidence_date != evidence.evidence_date:
                record(answer_row.item_id, "evidence_date", evidence_row.evidence_date, evidence.evidence_date)
                evidence_row.evidence_date = evidence.evidence_date
                evidence_row.expires_on = evidence.expires_on
            continue
        answer_row.evidence.append(
            models.Evidence(
                text=evidence.text,
                evidence_date=evidence.evidence_date,
                expires_on=evidence.expires_on,
                added_by=evidence.added_by,
                added_at=evidence.added_at or now,
            )
        )
        record(answer_row.item_id, "evidence", None, evidence.text)
        if evidence.evidence_date:
            record(answer_row.item_id, "evidence_date", None, evidence.evidence_date)


def history(session: Session, application_id: int) -> list[models.HistoryEntry]:
    return list(
        session.scalars(
            select(models.HistoryEntry)
            .where(models.HistoryEntry.application_id == application_id)
            .order_by(models.HistoryEntry.id)
        )
    )
