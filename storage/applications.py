"""Applications repository: rows to :class:`flows.application.ApplicationState` and back.

Saving compares the state before and after a step of the engine and writes each
difference to its row and to the append-only history, in the caller's transaction.

Every function taking a ``Session`` is a repository internal (leading underscore): only
storage's unit-of-work services (:mod:`storage.walks`, :mod:`storage.case_studies`,
:mod:`storage.digests`, :mod:`storage.reminders`) call them, inside their one
transaction. The public functions here take the :class:`~storage.db.Database`.

Reading a state: every application row becomes a state in one place, :func:`_to_state`
(a new column of the applications table needs an edit there, plus the model, to be
read). Two paths feed it:

* :func:`_read_states`, one statement of plain rows (the application joined to its
  answers and evidence) for one application or a few (by id, partner, channel). The id
  form is hot: every answer takes it (``bench/web_bench.py``); building ORM objects
  there was a third of an answer's cost.
* :func:`storage.digests.load`, for every application of some PDM channels at once, with
  partial answers (statuses and dated evidence only): a second path justified by
  ``bench/digest_bench.py`` (a thousand applications), where this one's row per piece of
  evidence cost far more than the digest's aggregated strings.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace

from sqlalchemy import JSON, Row, Text, and_, bindparam, cast, delete, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows import application as domain
from flows.application import partner_key
from flows.checklist import get_checklist
from flows.history import UNDO, Change
from storage import models
from storage.db import Database
from storage.errors import ApplicationNotFound, PartnerExists, PartnerInSeveralWorkspaces

__all__ = ["ApplicationNotFound", "HistoryRecord", "history"]


def _to_state(row: Row | SimpleNamespace, answers: dict[str, domain.Answer]) -> domain.ApplicationState:
    """The one place an application's row (its table's columns, JSON decoded, as
    attributes) becomes a state; ``answers`` are built by the caller."""
    pending = domain.Pending(**row.pending) if row.pending else None
    return domain.ApplicationState(
        id=row.id,
        partner=row.partner_name,
        delivery_type=row.delivery_type,
        checklist_id=row.checklist_id,
        checklist_release=row.checklist_release,
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


_APPLICATIONS, _ANSWERS, _EVIDENCE = models.Application.__table__, models.Answer.__table__, models.Evidence.__table__
_ANSWER_COLUMNS = ("id", "item_id", "status", "note", "answered_by", "answered_at", "assignee", "previous_status")
_EVIDENCE_COLUMNS = ("id", "text", "evidence_date", "expires_on", "added_by", "added_at")
_JSON_COLUMNS = frozenset(column.name for column in _APPLICATIONS.c if isinstance(column.type, JSON))

# Which applications :func:`_read_states` reads, by the parameters bound.
_BY_ID, _BY_CHANNEL, _BY_PARTNER, _BY_PARTNER_IN_TEAM = "id", "channel", "partner", "partner_in_team"
_EVERY = "every"  # every application (the command line's list)


def _which(by: str):
    if by == _BY_ID:
        return _APPLICATIONS.c.id == bindparam("application_id")
    if by == _EVERY:
        return true()
    if by == _BY_CHANNEL:
        return and_(_APPLICATIONS.c.team_id == bindparam("team_id"),
                    _APPLICATIONS.c.channel_id == bindparam("channel_id"))
    # One application per partner in a workspace; in any workspace, one per workspace.
    partner = _APPLICATIONS.c.partner_key == bindparam("partner_key")
    if by == _BY_PARTNER_IN_TEAM:
        return and_(partner, _APPLICATIONS.c.team_id == bindparam("team_id"))
    return partner


@cache
def _state_query(by: str, lock: bool):
    """The statement :func:`_read_states` runs, built once per shape (building and
    cache-keying it per call cost as much as running it): the applications, their
    answers and evidence (outer joins)."""
    # JSON columns come as text, parsed once per application rather than on every joined row.
    columns = [*(cast(column, Text).label(column.name) if column.name in _JSON_COLUMNS else column
                 for column in _APPLICATIONS.c),
               *(_ANSWERS.c[name].label(f"answer_{name}") for name in _ANSWER_COLUMNS),
               *(_EVIDENCE.c[name].label(f"evidence_{name}") for name in _EVIDENCE_COLUMNS)]
    statement = (
        select(*columns)
        .select_from(_APPLICATIONS.outerjoin(_ANSWERS).outerjoin(_EVIDENCE))
        .where(_which(by))
        .order_by(_APPLICATIONS.c.id, _ANSWERS.c.id, _EVIDENCE.c.id)
    )
    if lock:
        # Serialises concurrent steps on one application (several web processes).
        statement = statement.with_for_update(of=_APPLICATIONS)
    return statement


def _read_states(session: Session, by: str, params: dict,
                 lock: bool = False) -> list[tuple[domain.ApplicationState, Row]]:
    """One statement (:func:`_state_query`): each application's state and its row (every
    column of its table, for what the state leaves out), oldest first."""
    found: list[tuple[domain.ApplicationState, Row]] = []
    first: Row | None = None
    answers: dict[str, domain.Answer] = {}
    evidence: dict[str, list[domain.Evidence]] = {}

    def finish() -> None:
        fields = {column.name: first._mapping[column.name] for column in _APPLICATIONS.c}
        for name in _JSON_COLUMNS:
            if fields[name] is not None:
                fields[name] = json.loads(fields[name])
        found.append((
            _to_state(SimpleNamespace(**fields), {
                item_id: replace(answer, evidence=tuple(evidence[item_id])) if evidence[item_id] else answer
                for item_id, answer in answers.items()}),
            first,
        ))

    for row in session.connection().execute(_state_query(by, lock), params):
        if first is None or row.id != first.id:
            if first is not None:
                finish()
            first, answers, evidence = row, {}, {}
        item_id = row.answer_item_id
        if item_id is None:
            continue
        if item_id not in answers:
            answers[item_id] = domain.Answer(status=row.answer_status, note=row.answer_note,
                                             answered_by=row.answer_answered_by, answered_at=row.answer_answered_at,
                                             assignee=row.answer_assignee,
                                             previous_status=row.answer_previous_status)
            evidence[item_id] = []
        if row.evidence_id is not None:
            evidence[item_id].append(domain.Evidence(
                text=row.evidence_text, evidence_date=row.evidence_evidence_date, expires_on=row.evidence_expires_on,
                added_by=row.evidence_added_by, added_at=row.evidence_added_at, id=row.evidence_id))
    if first is not None:
        finish()
    return found


def _read_one(session: Session, application_id: int, lock: bool = False) -> tuple[domain.ApplicationState, Row]:
    """The application's state and its row; raises :class:`ApplicationNotFound`."""
    found = _read_states(session, _BY_ID, {"application_id": application_id}, lock)
    if not found:
        raise ApplicationNotFound(application_id)
    return found[0]


def _load_state(session: Session, application_id: int, lock: bool = False) -> domain.ApplicationState:
    """The application's state; ``lock`` for a step that saves it (:func:`_save`)."""
    return _read_one(session, application_id, lock)[0]


def _find_by_partner(session: Session, partner: str, team_id: str | None = None) -> domain.ApplicationState | None:
    """The partner's application; in any workspace when ``team_id`` is None (terminal,
    exports), where several workspaces with one are never chosen between silently: that
    raises :class:`PartnerInSeveralWorkspaces`, naming them."""
    if team_id is None:
        found = _read_states(session, _BY_PARTNER, {"partner_key": partner_key(partner)})
    else:
        found = _read_states(session, _BY_PARTNER_IN_TEAM, {"partner_key": partner_key(partner), "team_id": team_id})
    if len(found) > 1:
        raise PartnerInSeveralWorkspaces(partner, tuple(row.team_id for _, row in found))
    return found[0][0] if found else None


def _find_by_channel(session: Session, team_id: str, channel_id: str) -> list[domain.ApplicationState]:
    return [state for state, _ in _read_states(session, _BY_CHANNEL, {"team_id": team_id, "channel_id": channel_id})]


def _create(
    session: Session,
    state: domain.ApplicationState,
    actor: str,
    now: datetime,
    team_id: str = "",
    channel_id: str = "",
) -> domain.ApplicationState:
    row = models.Application(
        checklist_id=state.checklist_id,
        # Pinned to the release it starts on: the newest installed, unless the state names one.
        checklist_release=state.checklist_release or get_checklist(state.checklist_id).release,
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
    try:
        session.flush()
    except IntegrityError as error:
        if "partner_key" in str(error.orig) or "uq_applications_team_partner" in str(error.orig):
            raise PartnerExists(state.partner) from None
        raise
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
_DELETE_EVIDENCE = delete(_EVIDENCE).where(_EVIDENCE.c.id == bindparam("where_id"))
_INSERT_HISTORY = insert(models.HistoryEntry.__table__)


def _save(
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
    for field in ("partner", "delivery_type", "language", "target_audit_date", "timezone", "checklist_release"):
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
        # An answer given again (Bob presses Met where Alice had) changes who and when
        # but not the status: still one status row, so the history says who answered last.
        if (old_answer.status, old_answer.answered_by, old_answer.answered_at) != (
                new_answer.status, new_answer.answered_by, new_answer.answered_at):
            record(item_id, "status", old_answer.status, new_answer.status)
        for field in ("note", "assignee"):
            old, new = getattr(old_answer, field), getattr(new_answer, field)
            if old != new:
                record(item_id, field, old, new)
        # An answer given again after an upgrade reopened it no longer shows the old one.
        previous = new_answer.previous_status if new_answer.status is None else None
        answer_values = dict(status=new_answer.status, note=new_answer.note, assignee=new_answer.assignee,
                             answered_by=new_answer.answered_by, answered_at=new_answer.answered_at,
                             previous_status=previous)
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


def _archive(session: Session, application_id: int, archived: dict[str, str | None], release: str,
             actor: str, now: datetime) -> None:
    """History rows for answers a release upgrade leaves behind: the item, its answer, and
    the release it was answered to. The answer rows themselves stay as they were."""
    if archived:
        session.connection().execute(_INSERT_HISTORY, [
            dict(application_id=application_id, item_id=item_id, field="archived", old_value=status,
                 new_value=release, actor=actor, at=now) for item_id, status in archived.items()])


def _save_evidence(connection, answer_id: int, item_id: str, old_answer: domain.Answer,
                   new_answer: domain.Answer, record, now: datetime) -> domain.Answer:
    """Evidence is added, dated, or (by an undo) taken away again; stored pieces are known
    by their ids. Returns the answer as stored (new evidence with its id and time)."""
    stored = {evidence.id: evidence for evidence in old_answer.evidence}
    kept = {evidence.id for evidence in new_answer.evidence if evidence.id is not None}
    for gone in (evidence for evidence_id, evidence in stored.items() if evidence_id not in kept):
        connection.execute(_DELETE_EVIDENCE, dict(where_id=gone.id))
        record(item_id, "evidence", gone.text, None)
    saved = []
    for evidence in new_answer.evidence:
        if evidence.id is not None:
            before = stored[evidence.id]
            if before.evidence_date != evidence.evidence_date:
                record(item_id, "evidence_date", before.evidence_date, evidence.evidence_date)
                connection.execute(_UPDATE_EVIDENCE, dict(
                    where_id=evidence.id, evidence_date=evidence.evidence_date, expires_on=evidence.expires_on))
            saved.append(evidence)
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


# One entry of an application's append-only history, as the walk reads it.
HistoryRecord = Change


def history(db: Database, application_id: int) -> list[HistoryRecord]:
    """The application's history, oldest first."""
    with db.session() as session:
        return list(_history(session, application_id))


def _history(session: Session, application_id: int) -> tuple[Change, ...]:
    table = models.HistoryEntry.__table__
    rows = session.connection().execute(
        select(table.c.item_id, table.c.field, table.c.old_value, table.c.new_value, table.c.actor, table.c.at,
               table.c.id)
        .where(table.c.application_id == application_id)
        .order_by(table.c.id)
    )
    return tuple(Change(*row) for row in rows)


def _mark_undone(session: Session, application_id: int, reverted: tuple[Change, ...], actor: str,
                 now: datetime) -> None:
    """The row that makes an undo's step undone for good (:data:`flows.history.UNDO`)."""
    session.connection().execute(_INSERT_HISTORY, [dict(
        application_id=application_id, item_id=None, field=UNDO, old_value=None,
        new_value=",".join(str(change.id) for change in reverted), actor=actor, at=now)])
