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
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from types import SimpleNamespace

from sqlalchemy import (
    JSON,
    Row,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flows import application as domain
from flows.application import partner_key
from flows.checklist import get_checklist
from flows.history import SIGN_OFF, UNDO, Change
from flows.sign_off import Review, settle
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
        reviewers=tuple(row.reviewers or ()),
        require_sign_off=bool(row.require_sign_off),
    )


def _to_review(decision: str | None, by: str, at: datetime | None, reason: str,
               evidence_ids: str) -> Review | None:
    """The answer's sign-off columns as its standing decision (None: no decision)."""
    if decision is None:
        return None
    return Review(decision, by, at, reason, tuple(int(i) for i in evidence_ids.split(",") if i))


def _review_columns(review: Review | None) -> dict:
    if review is None:
        return dict(review_decision=None, reviewed_by="", reviewed_at=None, review_reason="", reviewed_evidence="")
    return dict(review_decision=review.decision, reviewed_by=review.by, reviewed_at=review.at,
                review_reason=review.reason, reviewed_evidence=",".join(str(i) for i in review.evidence_ids))


def _review_text(review: Review | None) -> str | None:
    """A decision as its history row shows it: who decided what, on which evidence, why."""
    if review is None:
        return None
    seen = ",".join(str(i) for i in review.evidence_ids)
    return " ".join(part for part in (review.decision, review.by, f"evidence={seen}" if seen else "",
                                      review.reason) if part)


_APPLICATIONS, _ANSWERS, _EVIDENCE = models.Application.__table__, models.Answer.__table__, models.Evidence.__table__
_ANSWER_COLUMNS = ("id", "item_id", "status", "note", "answered_by", "answered_at", "assignee",
                   "review_decision", "reviewed_by", "reviewed_at", "review_reason", "reviewed_evidence",
                   "previous_status")
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
def _state_query(by: str):
    """The statement :func:`_read_states` runs, built once per shape (building and
    cache-keying it per call cost as much as running it): the applications, their
    answers and evidence (outer joins)."""
    # JSON columns come as text, parsed once per application rather than on every joined row.
    columns = [*(cast(column, Text).label(column.name) if column.name in _JSON_COLUMNS else column
                 for column in _APPLICATIONS.c),
               *(_ANSWERS.c[name].label(f"answer_{name}") for name in _ANSWER_COLUMNS),
               *(_EVIDENCE.c[name].label(f"evidence_{name}") for name in _EVIDENCE_COLUMNS)]
    return (
        select(*columns)
        .select_from(_APPLICATIONS.outerjoin(_ANSWERS).outerjoin(_EVIDENCE))
        .where(_which(by))
        .order_by(_APPLICATIONS.c.id, _ANSWERS.c.id, _EVIDENCE.c.id)
    )


def _read_states(session: Session, by: str, params: dict) -> list[tuple[domain.ApplicationState, Row]]:
    """One statement (:func:`_state_query`): each application's state and its row (every
    column of its table, for what the state leaves out), oldest first."""
    return _states_of_rows(session.connection().execute(_state_query(by), params))


# Serialises concurrent steps on one application (several threads or web processes).
_LOCK = select(_APPLICATIONS.c.id).where(_APPLICATIONS.c.id == bindparam("application_id")).with_for_update()


def _states_of_rows(rows) -> list[tuple[domain.ApplicationState, Row]]:
    """The rows of :func:`_state_query` as states, each with its first row."""
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

    for row in rows:
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
                                             review=_to_review(row.answer_review_decision, row.answer_reviewed_by,
                                                               row.answer_reviewed_at, row.answer_review_reason,
                                                               row.answer_reviewed_evidence),
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
    """The application's state and its row; raises :class:`ApplicationNotFound`. With
    ``lock``, the application's row is locked first and read after, by a second
    statement: in READ COMMITTED, a locking read that waited for another step's lock sees
    the locked row as that step left it but the rows joined to it (the answers) as they
    were when the read began, and a step on those wrote an answer the other had just
    inserted (a duplicate key) or history from the old value."""
    params = {"application_id": application_id}
    if lock:
        session.connection().execute(_LOCK, params)
    found = _read_states(session, _BY_ID, params)
    if not found:
        raise ApplicationNotFound(application_id)
    return found[0]


def read_known(db: Database, application_id: int) -> tuple[domain.ApplicationState, int]:
    """The application's state and the version it is, in one statement (no transaction),
    remembered in ``db.known_states``; raises :class:`ApplicationNotFound`."""
    with db.single_statement() as connection:
        found = _states_of_rows(connection.execute(_state_query(_BY_ID), {"application_id": application_id}))
    if not found:
        raise ApplicationNotFound(application_id)
    state, row = found[0]
    db.known_states.remember(state, row.version, row.updated_at, row.channel_id)
    return state, row.version


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
        reviewers=list(state.reviewers),
        require_sign_off=state.require_sign_off,
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
_UPDATE_APPLICATION = (update(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("where_id"))
                       .values(version=_APPLICATIONS.c.version + 1))
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


@dataclass
class _Differences:
    """What a step changed, as rows: the application's columns, each changed answer's
    columns (with whether its row exists), and the history rows."""

    application: dict[str, object] = field(default_factory=dict)
    answers: list[tuple[str, dict[str, object], bool]] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    evidence_changed: bool = False
    stored: dict[str, domain.Answer] = field(default_factory=dict)  # each changed answer as its row keeps it


def _as_stored(answer: domain.Answer) -> domain.Answer:
    """An answer as its row keeps it: given again after an upgrade reopened it, it no
    longer shows the old one."""
    if answer.status is not None and answer.previous_status is not None:
        return replace(answer, previous_status=None)
    return answer


def _differences(application_id: int, before: domain.ApplicationState, after: domain.ApplicationState, actor: str,
                 now: datetime) -> _Differences:
    """The one place that says what a step wrote and which history rows tell it, evidence
    aside (its rows need the answer's id: :func:`_save_evidence`)."""
    found = _Differences()

    def record(item_id: str | None, field_name: str, old: object, new: object) -> None:
        found.history.append(dict(application_id=application_id, item_id=item_id, field=field_name,
                                  old_value=_text(old), new_value=_text(new), actor=actor, at=now))

    values = found.application
    for name in ("partner", "delivery_type", "language", "target_audit_date", "timezone", "checklist_release"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            values["partner_name" if name == "partner" else name] = new
            if name == "partner":
                values["partner_key"] = partner_key(new)
            record(None, name, old, new)
    if before.pdm_channel != after.pdm_channel:
        values["pdm_channel_id"] = after.pdm_channel
        record(None, "pdm_channel", before.pdm_channel, after.pdm_channel)
    if before.lead_times != after.lead_times:
        values["lead_times"] = list(after.lead_times) if after.lead_times is not None else None
        record(None, "lead_times", _days(before.lead_times), _days(after.lead_times))
    if before.reviewers != after.reviewers:
        values["reviewers"] = list(after.reviewers)
        record(None, "reviewers", ",".join(before.reviewers), ",".join(after.reviewers))
    if before.require_sign_off != after.require_sign_off:
        values["require_sign_off"] = after.require_sign_off
        record(None, "require_sign_off", before.require_sign_off, after.require_sign_off)
    if before.categories != after.categories:
        values["categories"] = list(after.categories)
        record(None, "categories", ",".join(before.categories), ",".join(after.categories))
    values.update(
        cursor_item=after.cursor, finished=after.finished, updated_at=now,
        pending={"item_id": after.pending.item_id, "awaiting": after.pending.awaiting} if after.pending else None,
    )
    for item_id, old_answer, new_answer in domain.changed_answers(before, after):
        if new_answer == old_answer:
            continue
        # An answer given again (Bob presses Met where Alice had) changes who and when
        # but not the status: still one status row, so the history says who answered last.
        if (old_answer.status, old_answer.answered_by, old_answer.answered_at) != (
                new_answer.status, new_answer.answered_by, new_answer.answered_at):
            record(item_id, "status", old_answer.status, new_answer.status)
        for name in ("note", "assignee"):
            old, new = getattr(old_answer, name), getattr(new_answer, name)
            if old != new:
                record(item_id, name, old, new)
        if old_answer.review != new_answer.review:
            record(item_id, SIGN_OFF, _review_text(old_answer.review), _review_text(new_answer.review))
        stored = _as_stored(new_answer)
        found.stored[item_id] = stored
        found.answers.append((item_id, dict(
            status=stored.status, note=stored.note, assignee=stored.assignee,
            answered_by=stored.answered_by, answered_at=stored.answered_at, previous_status=stored.previous_status,
            **_review_columns(stored.review)), item_id in before.answers))
        found.evidence_changed |= new_answer.evidence != old_answer.evidence
    return found


def _save(
    session: Session,
    application_id: int,
    before: domain.ApplicationState,
    after: domain.ApplicationState,
    actor: str,
    now: datetime,
) -> domain.ApplicationState:
    """Write what changed between ``before`` and ``after``; returns the stored state.

    Plain statements, not the ORM's unit of work: one UPDATE of the application, one
    statement per changed answer and per new or re-dated piece of evidence, one INSERT of
    all history rows. ``before`` must be the state as stored (read under its lock): its
    answers are the rows that exist."""
    session.flush()  # the caller's pending ORM changes go first, in order
    connection = session.connection()
    # Steps outside the walk (an expiry flip) void sign-offs by the walk's one rule; the
    # walk's own steps arrive settled, and settling again changes nothing.
    after = settle(get_checklist(*after.release_key), before, after)[0]
    changed = _differences(application_id, before, after, actor, now)
    connection.execute(_UPDATE_APPLICATION, dict(where_id=application_id, **changed.application))

    def record(item_id: str | None, field_name: str, old: object, new: object) -> None:
        changed.history.append(dict(application_id=application_id, item_id=item_id, field=field_name,
                                    old_value=_text(old), new_value=_text(new), actor=actor, at=now))

    stored_answers = {**after.answers, **changed.stored}
    for item_id, answer_values, exists in changed.answers:
        if exists:
            answer_id = connection.execute(
                _UPDATE_ANSWER, dict(where_application=application_id, where_item=item_id, **answer_values)
            ).scalar_one()
        else:
            answer_id = connection.execute(
                _INSERT_ANSWER, dict(application_id=application_id, item_id=item_id, **answer_values)
            ).scalar_one()
        stored_answers[item_id] = _save_evidence(connection, answer_id, item_id, before.answer(item_id),
                                                 changed.stored[item_id], record, now)
    if changed.history:
        connection.execute(_INSERT_HISTORY, changed.history)
    return replace(after, answers=stored_answers)


_MEMBERS = models.ChannelMember.__table__


def may_change_from_slack():
    """Whether the user bound as ``member_user_id`` may change the application from Slack:
    a member of its channel (as last read from Slack) in its own workspace, bound as
    ``member_team_id``. The one rule, in the membership check and in a press's write.
    (Not ``team_id``: in an UPDATE, a parameter named after a column sets it.)"""
    return and_(
        _APPLICATIONS.c.team_id == bindparam("member_team_id"),
        select(_MEMBERS.c.user_id)
        .where(_MEMBERS.c.team_id == _APPLICATIONS.c.team_id, _MEMBERS.c.channel_id == _APPLICATIONS.c.channel_id,
               _MEMBERS.c.user_id == bindparam("member_user_id"))
        .exists(),
    )


@dataclass(frozen=True)
class Presumed:
    """What a press's write confirms when no statement checked it before: the state was
    known at ``updated_at`` (with the version), and ``user_id`` of ``team_id`` may change it."""

    updated_at: datetime
    team_id: str
    user_id: str


# The outcomes of :func:`_write_unless_changed`.
WRITTEN, ALREADY_APPLIED, CHANGED_MEANWHILE = "written", "already applied", "changed meanwhile"
MAY_NOT_CHANGE = "may not change"
_DELIVERIES, _HISTORY = models.ProcessedDelivery.__table__, models.HistoryEntry.__table__
_HISTORY_VALUES = ("application_id", "item_id", "field", "old_value", "new_value", "actor", "at")


def _write_unless_changed(db: Database, before: domain.ApplicationState, version: int,
                          after: domain.ApplicationState, actor: str, now: datetime,
                          delivery_key: str, presumed: Presumed | None = None,
                          ) -> tuple[str | None, domain.ApplicationState]:
    """A step applied to a state read without a lock, in one statement on PostgreSQL: it
    claims ``delivery_key`` and writes what changed only if the application is still at
    ``version`` and the key unclaimed — and, with ``presumed``, still at its update time,
    and the user one who may change it. Returns :data:`WRITTEN` (with the state as stored,
    now at ``version + 1``), :data:`ALREADY_APPLIED` (the key was claimed before),
    :data:`MAY_NOT_CHANGE` (with ``presumed``: the user may not change the application;
    nothing written) or :data:`CHANGED_MEANWHILE` (nothing written), or None when this
    cannot be one statement (SQLite, which has no round trips to save, or new evidence,
    whose rows need their answer's id): the caller then takes the lock."""
    if db.is_sqlite:
        return None, after
    after = settle(get_checklist(*after.release_key), before, after)[0]  # as _save does
    changed = _differences(before.id, before, after, actor, now)
    if changed.evidence_changed:
        return None, after
    statement = _unlocked_write(tuple(changed.application),
                                tuple((exists, tuple(values)) for _, values, exists in changed.answers),
                                len(changed.history), presumed is not None)
    params: dict[str, object] = {"where_id": before.id, "where_version": version, "claim_key": delivery_key,
                                 "claim_at": now}
    if presumed is not None:
        params.update(where_updated_at=presumed.updated_at, member_team_id=presumed.team_id,
                      member_user_id=presumed.user_id)
    params.update((f"a_{name}", value) for name, value in changed.application.items())
    for n, (item_id, values, _) in enumerate(changed.answers):
        params[f"n{n}_item_id"] = item_id
        params.update((f"n{n}_{name}", value) for name, value in values.items())
    for n, row in enumerate(changed.history):
        params.update((f"h{n}_{name}", row[name]) for name in _HISTORY_VALUES)
    outcome = db.first_row(statement, params)
    code = (WRITTEN if outcome.written else ALREADY_APPLIED if outcome.already
            else MAY_NOT_CHANGE if presumed is not None and not outcome.member else CHANGED_MEANWHILE)
    return code, replace(after, answers={**after.answers, **changed.stored})


@cache
def _unlocked_write(application_columns: tuple[str, ...], answers: tuple[tuple[bool, tuple[str, ...]], ...],
                    history_rows: int, presumed: bool):
    """The statement of :func:`_write_unless_changed`, built once per shape: the
    application's UPDATE (guarded by its version and the unclaimed key) is a CTE that the
    claim, the answers' and the history's writes each require to have written a row.
    PostgreSQL runs every data-modifying CTE once, on one snapshot: ``already`` sees only
    claims committed before the statement. Presumed, it also says whether the user may
    change the application (``member``), so that a press on a state changed meanwhile
    needs no membership check of its own."""

    def bound(prefix: str, table, name: str):
        return bindparam(f"{prefix}{name}", type_=table.c[name].type)

    claimed_before = select(_DELIVERIES.c.key).where(_DELIVERIES.c.key == bindparam("claim_key")).exists()
    guards = [_APPLICATIONS.c.id == bindparam("where_id"), _APPLICATIONS.c.version == bindparam("where_version"),
              ~claimed_before]
    if presumed:
        guards += [_APPLICATIONS.c.updated_at == bound("where_", _APPLICATIONS, "updated_at"), may_change_from_slack()]
    written = (
        update(_APPLICATIONS)
        .where(*guards)
        .values(version=_APPLICATIONS.c.version + 1,
                **{name: bound("a_", _APPLICATIONS, name) for name in application_columns})
        .returning(_APPLICATIONS.c.id)
        .cte("written")
    )
    if_written = select(written.c.id).exists()
    claim = select(bound("claim_", _DELIVERIES, "key"), bound("claim_", _DELIVERIES, "at")).where(if_written)
    writes = [pg_insert(_DELIVERIES).from_select(["key", "at"], claim).on_conflict_do_nothing()]
    for n, (exists, columns) in enumerate(answers):
        values = {name: bound(f"n{n}_", _ANSWERS, name) for name in columns}
        if exists:
            writes.append(update(_ANSWERS).where(_ANSWERS.c.application_id == written.c.id,
                                                 _ANSWERS.c.item_id == bound(f"n{n}_", _ANSWERS, "item_id"))
                          .values(**values))
        else:
            writes.append(insert(_ANSWERS).from_select(
                ["application_id", "item_id", *values],
                select(written.c.id, bound(f"n{n}_", _ANSWERS, "item_id"), *values.values())))
    if history_rows:
        rows = [select(*(bound(f"h{n}_", _HISTORY, name) for name in _HISTORY_VALUES)).where(if_written)
                for n in range(history_rows)]
        writes.append(insert(_HISTORY).from_select(list(_HISTORY_VALUES), rows[0] if history_rows == 1
                                                   else union_all(*rows)))
    outcome = [if_written.label("written"), claimed_before.label("already")]
    if presumed:
        outcome.append(select(may_change_from_slack()).where(_APPLICATIONS.c.id == bindparam("where_id"))
                       .scalar_subquery().label("member"))
    return select(*outcome).add_cte(*(write.cte(f"write_{n}") for n, write in enumerate(writes)))


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
