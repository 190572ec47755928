"""Applications repository: rows to :class:`flows.application.ApplicationState` and back.

Saving compares the state before and after a step of the engine and writes each
difference to its row and to the append-only history, in the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace

from sqlalchemy import JSON, Row, Text, bindparam, cast, insert, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from flows import application as domain
from storage import models


class ApplicationNotFound(LookupError):
    pass


def partner_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def to_state(row: models.Application | Row | SimpleNamespace,
             answers: dict[str, domain.Answer] | None = None) -> domain.ApplicationState:
    """From the ORM object, or from the fields of a plain row of its table with
    ``answers`` built by the caller (the digest reads every application's at once)."""
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
    locked when asked: every change other than an answer button starts here."""
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


def load_state(session: Session, application_id: int, lock: bool = False) -> domain.ApplicationState:
    """The application's state, read as plain rows (see :func:`load_state_for_member`)."""
    return _read_state(session, application_id, lock)[0]


_APPLICATIONS, _ANSWERS, _EVIDENCE = models.Application.__table__, models.Answer.__table__, models.Evidence.__table__
_ANSWER_COLUMNS = ("id", "item_id", "status", "note", "answered_by", "answered_at", "assignee")
_EVIDENCE_COLUMNS = ("id", "text", "evidence_date", "expires_on", "added_by", "added_at")
_JSON_COLUMNS = frozenset(column.name for column in _APPLICATIONS.c if isinstance(column.type, JSON))


def load_state_for_member(
    session: Session, application_id: int, team_id: str, user_id: str, lock: bool = False
) -> tuple[domain.ApplicationState, bool]:
    """The application's state and whether the user is a member of its channel in its
    workspace, in one statement of plain rows (no ORM objects: this is the path of every
    answer, and building them was a third of its cost). Save with :func:`save`."""
    state, first = _read_state(session, application_id, lock, user_id)
    return state, bool(first.is_member) and first.team_id == team_id


@cache
def _state_query(lock: bool, with_member: bool):  # noqa: ANN202
    """The statement :func:`_read_state` runs, built once per shape (building and
    cache-keying it per call cost as much as running it): the application, its answers
    and evidence (outer joins), and with ``with_member`` whether the user bound as
    ``member`` is in its channel (``is_member``)."""
    # JSON columns come as text, parsed once in _read_state rather than on every joined row.
    columns = [*(cast(column, Text).label(column.name) if column.name in _JSON_COLUMNS else column
                 for column in _APPLICATIONS.c),
               *(_ANSWERS.c[name].label(f"answer_{name}") for name in _ANSWER_COLUMNS),
               *(_EVIDENCE.c[name].label(f"evidence_{name}") for name in _EVIDENCE_COLUMNS)]
    if with_member:
        columns.append(
            select(models.ChannelMember.user_id)
            .where(models.ChannelMember.team_id == _APPLICATIONS.c.team_id,
                   models.ChannelMember.channel_id == _APPLICATIONS.c.channel_id,
                   models.ChannelMember.user_id == bindparam("member"))
            .exists().label("is_member")
        )
    statement = (
        select(*columns)
        .select_from(_APPLICATIONS.outerjoin(_ANSWERS).outerjoin(_EVIDENCE))
        .where(_APPLICATIONS.c.id == bindparam("application_id"))
        .order_by(_ANSWERS.c.id, _EVIDENCE.c.id)
    )
    if lock:
        # Serialises concurrent steps on one application (several web processes).
        statement = statement.with_for_update(of=_APPLICATIONS)
    return statement


def _read_state(session: Session, application_id: int, lock: bool,
                member: str | None = None) -> tuple[domain.ApplicationState, Row]:
    """One statement (:func:`_state_query`): the state and the application's row."""
    rows = session.connection().execute(
        _state_query(lock, member is not None), {"application_id": application_id, "member": member}
    ).all()
    if not rows:
        raise ApplicationNotFound(application_id)
    answers: dict[str, domain.Answer] = {}
    evidence: dict[str, list[domain.Evidence]] = {}
    for row in rows:
        item_id = row.answer_item_id
        if item_id is None:
            continue
        if item_id not in answers:
            answers[item_id] = domain.Answer(status=row.answer_status, note=row.answer_note,
                                             answered_by=row.answer_answered_by, answered_at=row.answer_answered_at,
                                             assignee=row.answer_assignee)
            evidence[item_id] = []
        if row.evidence_id is not None:
            evidence[item_id].append(domain.Evidence(
                text=row.evidence_text, evidence_date=row.evidence_evidence_date, expires_on=row.evidence_expires_on,
                added_by=row.evidence_added_by, added_at=row.evidence_added_at, id=row.evidence_id))
    answers = {item_id: replace(answer, evidence=tuple(evidence[item_id])) if evidence[item_id] else answer
               for item_id, answer in answers.items()}
    first = rows[0]
    fields = dict(first._mapping)
    for name in _JSON_COLUMNS:
        if fields[name] is not None:
            fields[name] = json.loads(fields[name])
    return to_state(SimpleNamespace(**fields), answers), first


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


# Built once; executed with the values as parameters, whose names set the columns written
# (the WHERE parameters are named so as not to clash with them).
_UPDATE_APPLICATION = update(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("where_id"))
_UPDATE_ANSWER = (
    update(_ANSWERS)
    .where(_ANSWERS.c.application_id == bindparam("where_application"), _ANSWERS.c.item_id == bindparam("where_item"))
    .returning(_ANSWERS.c.id)
)
_INSERT_ANSWER = insert(_ANSWERS).returning(_ANSWERS.c.id)
_UPDATE_EVIDENCE = update(_EVIDENCE).where(_EVIDENCE.c.id == bindparam("where_id"))
_INSERT_EVIDENCE = insert(_EVIDENCE).returning(_EVIDENCE.c.id)
_INSERT_HISTORY = insert(models.HistoryEntry.__table__)


def save(
    session: Session,
    application_id: int,
    before: domain.ApplicationState,
    after: domain.ApplicationState,
    actor: str,
    now: datetime,
) -> domain.ApplicationState:
    """Write what changed between ``before`` and ``after``; returns the stored state.

    Plain statements, not the ORM's unit of work (every answer takes this path): one
    UPDATE of the application, one statement per changed answer and per new or re-dated
    piece of evidence, one INSERT of all history rows. ``before`` must be the state as
    stored: its answers are the rows that exist."""
    session.flush()  # the caller's pending ORM changes go first, in order
    connection = session.connection()
    history: list[dict] = []

    def record(item_id: str | None, field: str, old: object, new: object) -> None:
        history.append(dict(application_id=application_id, item_id=item_id, field=field,
                            old_value=_text(old), new_value=_text(new), actor=actor, at=now))

    values: dict[str, object] = {}
    for field in ("partner", "delivery_type", "language", "target_audit_date", "timezone"):
        old, new = getattr(before, field), getattr(after, field)
        if old != new:
            values["partner_name" if field == "partner" else field] = new
            if field == "partner":
                values["partner_key"] = partner_key(new)
            record(None, field, old, new)
    if before.pdm_channel != after.pdm_channel:
        values["pdm_channel_id"] = after.pdm_channel
        record(None, "pdm_channel", before.pdm_channel, after.pdm_channel)
    if before.lead_times != after.lead_times:
        values["lead_times"] = list(after.lead_times) if after.lead_times is not None else None
        record(None, "lead_times", _days(before.lead_times), _days(after.lead_times))
    if before.categories != after.categories:
        values["categories"] = list(after.categories)
        record(None, "categories", ",".join(before.categories), ",".join(after.categories))
    connection.execute(_UPDATE_APPLICATION, dict(
        where_id=application_id, cursor_item=after.cursor,
        pending={"item_id": after.pending.item_id, "awaiting": after.pending.awaiting} if after.pending else None,
        finished=after.finished, updated_at=now, **values,
    ))

    stored_answers = dict(after.answers)
    for item_id, new_answer in after.answers.items():
        old_answer = before.answer(item_id)
        if new_answer == old_answer:
            continue
        for field in ("status", "note", "assignee"):
            old, new = getattr(old_answer, field), getattr(new_answer, field)
            if old != new:
                record(item_id, field, old, new)
        answer_values = dict(status=new_answer.status, note=new_answer.note, assignee=new_answer.assignee,
                             answered_by=new_answer.answered_by, answered_at=new_answer.answered_at)
        if item_id in before.answers:
            answer_id = connection.execute(
                _UPDATE_ANSWER, dict(where_application=application_id, where_item=item_id, **answer_values)
            ).scalar_one()
        else:
            answer_id = connection.execute(
                _INSERT_ANSWER, dict(application_id=application_id, item_id=item_id, **answer_values)
            ).scalar_one()
        stored_answers[item_id] = _save_evidence(connection, answer_id, item_id, old_answer, new_answer,
                                                 record, now)
    if history:
        connection.execute(_INSERT_HISTORY, history)
    return replace(after, answers=stored_answers)


def _save_evidence(connection, answer_id: int, item_id: str, old_answer: domain.Answer,  # noqa: ANN001
                   new_answer: domain.Answer, record, now: datetime) -> domain.Answer:  # noqa: ANN001
    """Evidence is only ever added or dated; a state never drops stored evidence. Returns
    the answer as stored (new evidence with its id and time)."""
    stored = list(old_answer.evidence)
    saved = []
    for index, evidence in enumerate(new_answer.evidence):
        if index < len(stored):
            if stored[index].evidence_date != evidence.evidence_date:
                record(item_id, "evidence_date", stored[index].evidence_date, evidence.evidence_date)
                connection.execute(_UPDATE_EVIDENCE, dict(
                    where_id=stored[index].id, evidence_date=evidence.evidence_date, expires_on=evidence.expires_on))
            saved.append(replace(evidence, id=stored[index].id))
            continue
        added = replace(evidence, added_at=evidence.added_at or now)
        evidence_id = connection.execute(_INSERT_EVIDENCE, dict(
            answer_id=answer_id, text=added.text, evidence_date=added.evidence_date,
            expires_on=added.expires_on, added_by=added.added_by, added_at=added.added_at,
        )).scalar_one()
        saved.append(replace(added, id=evidence_id))
        record(item_id, "evidence", None, evidence.text)
        if evidence.evidence_date:
            record(item_id, "evidence_date", None, evidence.evidence_date)
    return replace(new_answer, evidence=tuple(saved))


def history(session: Session, application_id: int) -> list[models.HistoryEntry]:
    return list(
        session.scalars(
            select(models.HistoryEntry)
            .where(models.HistoryEntry.application_id == application_id)
            .order_by(models.HistoryEntry.id)
        )
    )
