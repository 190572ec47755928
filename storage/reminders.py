"""Reminder bookkeeping: what evidence is tracked, which keys are recorded, claiming.

Keys are strings ``e<evidence id>:<lead days>`` for evidence and ``c<case study id>:<lead
days>`` for case studies (negative lead days: -1 the expiry flip, -8 the escalation,
see :mod:`flows.reminders`). A key is claimed (inserted) before its message is sent, so
two clock processes, a rerun or a retry never send it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timezone

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from flows.application import EXPIRED, MET
from flows.checklist import Item, get_checklist
from flows.reminders import ReminderKey, TrackedEvidence
from flows.sign_off import settle
from storage import applications, models
from storage.db import Database, insert_unless_present

CLAIMED, SENT, FAILED, SKIPPED = "claimed", "sent", "failed", "skipped"
EVIDENCE, CASE_STUDY = "e", "c"


# A history id can commit after a higher one (ids are handed out before commit), so the
# feed stops before the lowest id not seen yet; a gap left by a rolled-back transaction
# never fills, so it holds the feed back by this many ids at most.
FEED_OVERLAP = 200


@dataclass(frozen=True)
class Scope:
    """The applications a reminder pass looks at: ``application_ids`` None means all (the
    first pass, when no :class:`models.ReminderFeed` row exists yet); ``history_id`` is the
    newest history row it has taken into account."""

    application_ids: frozenset[int] | None
    history_id: int


EVERY_APPLICATION = Scope(None, 0)


def pass_scope(db: Database, now: datetime) -> Scope:
    """The applications whose :class:`models.ReminderCheck` moment has come, and those
    with history since the last pass (every change that reminders depend on writes
    history: answers, evidence, assignees, snoozes, lead times, time zones, case studies):
    what a pass reads grows with what is due and what changed, not with what is stored."""
    with db.engine.connect() as connection:
        feed = connection.scalar(select(models.ReminderFeed.history_id).where(models.ReminderFeed.id == 1))
        if feed is None:  # the first pass: everything, and the feed starts at the newest history
            newest = connection.scalar(select(func.coalesce(func.max(models.HistoryEntry.id), 0)))
            start = max(newest - FEED_OVERLAP, 0)
            recent = connection.scalars(select(models.HistoryEntry.id).where(models.HistoryEntry.id > start)
                                        .order_by(models.HistoryEntry.id)).all()
            return Scope(None, _seen_up_to(start, list(recent)))
        due = connection.scalars(
            select(models.ReminderCheck.application_id).where(models.ReminderCheck.check_at <= now)).all()
        changed = connection.execute(
            select(models.HistoryEntry.id, models.HistoryEntry.application_id)
            .where(models.HistoryEntry.id > feed).order_by(models.HistoryEntry.id)).all()
    return Scope(frozenset(due) | frozenset(application_id for _, application_id in changed),
                 _seen_up_to(feed, [ident for ident, _ in changed]))


def _seen_up_to(feed: int, ids: list[int]) -> int:
    """The new feed position after reading ``ids`` (ascending) above ``feed``: just below
    the first gap, which a transaction still open may fill, but no more than
    :data:`FEED_OVERLAP` below the newest id."""
    if not ids:
        return feed
    for expected, ident in enumerate(ids, start=feed + 1):
        if ident != expected:
            return max(expected - 1, ids[-1] - FEED_OVERLAP)
    return ids[-1]


def save_checks(db: Database, scope: Scope, checks: dict[int, datetime]) -> None:
    """Replace the check moments of the applications in ``scope`` (all, for a first pass)
    with ``checks``, and record that history up to ``scope.history_id`` is taken into
    account; one transaction."""
    with db.session() as session:
        connection = session.connection()
        table = models.ReminderCheck.__table__
        if scope.application_ids is None:
            connection.execute(table.delete())
        elif scope.application_ids:
            connection.execute(table.delete().where(table.c.application_id.in_(scope.application_ids)))
        if checks:
            # Two passes at once (two clocks, or a clock and `remind`) each delete, then
            # insert: the second's insert would meet the first's committed rows.
            upsert = (pg_insert if connection.dialect.name == "postgresql" else sqlite_insert)(table)
            connection.execute(
                upsert.on_conflict_do_update(index_elements=[table.c.application_id],
                                             set_={"check_at": upsert.excluded.check_at}),
                [dict(application_id=application_id, check_at=moment) for application_id, moment in checks.items()])
        feed = models.ReminderFeed.__table__
        if connection.execute(feed.update().where(feed.c.id == 1).values(history_id=scope.history_id)).rowcount == 0:
            connection.execute(insert_unless_present(connection.dialect.name, models.ReminderFeed),
                               dict(id=1, history_id=scope.history_id))


def key_text(kind: str, key: ReminderKey) -> str:
    return f"{kind}{key.evidence_id}:{key.lead_days}"


def tracked(db: Database, scope: Scope = EVERY_APPLICATION) -> dict[tuple[str, str], list[TrackedEvidence]]:
    """The newest dated evidence of every met or expired answer of the applications in
    ``scope``, by (checklist id, release), in one query, with the assignee's cached time zone. Older
    evidence of the same answer no longer counts, so the database drops it (a window
    function) rather than Python."""
    dated = models.Evidence.expires_on.is_not(None)
    if scope.application_ids is not None:
        dated = dated & models.Evidence.answer_id.in_(
            select(models.Answer.id).where(models.Answer.application_id.in_(scope.application_ids)))
    ranked = (
        select(
            models.Evidence.id.label("evidence_id"), models.Evidence.answer_id,
            models.Evidence.evidence_date, models.Evidence.expires_on, models.Evidence.snoozed_until,
            func.row_number().over(
                partition_by=models.Evidence.answer_id,
                order_by=(models.Evidence.evidence_date.desc(), models.Evidence.id.desc()),
            ).label("rank"),
        )
        .where(dated)
        .subquery()
    )
    statement = (
        select(
            ranked.c.evidence_id, ranked.c.evidence_date, ranked.c.expires_on, ranked.c.snoozed_until,
            models.Answer.application_id, models.Answer.item_id, models.Answer.status, models.Answer.assignee,
            models.Application.timezone, models.Application.target_audit_date, models.Application.lead_times,
            models.SlackUser.timezone, models.Application.checklist_id, models.Application.checklist_release,
        )
        .join(models.Answer, ranked.c.answer_id == models.Answer.id)
        .join(models.Application, models.Answer.application_id == models.Application.id)
        .outerjoin(
            models.SlackUser,
            (models.SlackUser.team_id == models.Application.team_id)
            & (models.SlackUser.user_id == models.Answer.assignee),
        )
        .where(ranked.c.rank == 1, models.Answer.status.in_((MET, EXPIRED)))
    )
    # A plain connection, not a session: plain tuples, no ORM bookkeeping for 100k rows.
    with db.engine.connect() as connection:
        result = connection.execute(statement).all()
    by_checklist: dict[tuple[str, str], list[TrackedEvidence]] = {}
    for (evidence_id, evidence_date, expires_on, snoozed, application_id, item_id, status, assignee,
         app_tz, audit, leads, user_tz, checklist_id, release) in result:
        if snoozed is not None and snoozed.tzinfo is None:
            snoozed = snoozed.replace(tzinfo=timezone.utc)  # SQLite keeps no zone
        by_checklist.setdefault((checklist_id, release), []).append(TrackedEvidence(
            application_id=application_id, item_id=item_id, evidence_id=evidence_id,
            evidence_date=evidence_date, expires_on=expires_on, status=status, assignee=assignee or "",
            recipient_tz=user_tz or None, app_tz=app_tz, target_audit_date=audit,
            snoozed_until=snoozed, lead_override=tuple(leads) if leads is not None else None,
        ))
    return by_checklist


def tracked_case_studies(db: Database,
                         scope: Scope = EVERY_APPLICATION) -> list[tuple[tuple[str, str], TrackedEvidence]]:
    """((checklist id, release), row) per dated case study of the applications in ``scope``,
    in one query. Each case study is its own piece of evidence of the item that sets the
    window (P2.1); the row's item id is made unique per case study, since only the newest
    evidence of an answer counts."""
    statement = (
        select(
            models.CaseStudy.id, models.CaseStudy.production_date, models.CaseStudy.snoozed_until,
            models.CaseStudy.application_id, models.Application.timezone,
            models.Application.target_audit_date, models.Application.lead_times, models.Application.checklist_id,
            models.Application.checklist_release,
        )
        .join(models.Application, models.CaseStudy.application_id == models.Application.id)
        .where(models.CaseStudy.production_date.is_not(None), models.CaseStudy.in_production.is_(True))
    )
    if scope.application_ids is not None:
        statement = statement.where(models.CaseStudy.application_id.in_(scope.application_ids))
    with db.engine.connect() as connection:
        result = connection.execute(statement).all()
    dates: dict[int, list[date]] = {}
    for row in result:
        dates.setdefault(row.application_id, []).append(row.production_date)
    found = []
    for (ident, produced, snoozed, application_id, app_tz, audit, leads, checklist_id, release) in result:
        if snoozed is not None and snoozed.tzinfo is None:
            snoozed = snoozed.replace(tzinfo=timezone.utc)
        # expires_on is set by the caller, which knows the checklist's window.
        found.append(((checklist_id, release), TrackedEvidence(
            application_id=application_id, item_id=f"{CASE_STUDY}{ident}", evidence_id=ident,
            evidence_date=produced, expires_on=produced, status=MET, assignee="", recipient_tz=None,
            app_tz=app_tz, target_audit_date=audit, snoozed_until=snoozed,
            lead_override=tuple(leads) if leads is not None else None,
            case_study_dates=tuple(dates[application_id]),
        )))
    return found


def case_study_text(db: Database, ids: set[int]) -> dict[int, tuple[str, date | None]]:
    """(customer name, production date) of some case studies."""
    if not ids:
        return {}
    with db.engine.connect() as connection:
        return {
            ident: (name, produced)
            for ident, name, produced in connection.execute(
                select(models.CaseStudy.id, models.CaseStudy.customer_name, models.CaseStudy.production_date)
                .where(models.CaseStudy.id.in_(ids))
            )
        }


def recorded_keys(db: Database, kind: str, scope: Scope = EVERY_APPLICATION) -> set[ReminderKey]:
    """Keys claimed, sent or skipped of the applications in ``scope`` (failed ones are
    retried, so they are left out)."""
    statement = select(models.ReminderLog.key).where(
        models.ReminderLog.status != FAILED, models.ReminderLog.key.startswith(kind))
    if scope.application_ids is not None:
        statement = statement.where(models.ReminderLog.application_id.in_(scope.application_ids))
    with db.engine.connect() as connection:
        texts = connection.scalars(statement).all()
    found = set()
    for text in texts:
        ident, _, lead = text[len(kind):].partition(":")
        found.add(ReminderKey(int(ident), int(lead)))
    return found


@dataclass(frozen=True)
class Outcome:
    """How the send of a claimed key ended."""

    key: str
    ok: bool
    error: str = ""


def claim(db: Database, key: str, application_id: int, item_id: str, recipient: str, now: datetime,
          status: str = CLAIMED, *, skipped: list[str] | tuple[str, ...] = (), skip_reason: str = "",
          previous: Outcome | None = None) -> bool:
    """Take a key for sending; False when another pass or process already holds it.
    A key whose send failed earlier is taken over again.

    In the same transaction, ``skipped`` keys of the same item are recorded (with
    ``skip_reason``, in the row's ``error``) and the
    ``previous`` send's outcome is finished: one commit per send instead of three. The
    claim still precedes its send, so nothing goes out twice; a crash after a send and
    before its outcome is recorded leaves the key claimed, which the next pass settles."""
    with db.session() as session:
        if previous is not None:
            _finish(session, previous, now)
        _record_skipped(session, skipped, application_id, item_id, skip_reason, now)
        # Core statements on the session's connection: the ORM's bulk machinery cost more
        # than the statements themselves, several times per send.
        connection = session.connection()
        inserted = connection.execute(
            insert_unless_present(connection.dialect.name, models.ReminderLog, returning="key"),
            dict(key=key, application_id=application_id, item_id=item_id, status=status,
                 recipient=recipient[:64], attempts=1, error="", claimed_at=now),
        ).first()
        if inserted is not None:
            return True
        retaken = connection.execute(
            update(models.ReminderLog)
            .where(models.ReminderLog.key == key, models.ReminderLog.status == FAILED)
            .values(status=status, attempts=models.ReminderLog.attempts + 1, claimed_at=now, error="")
            .returning(models.ReminderLog.key)
        ).first()
        return retaken is not None


@dataclass(frozen=True)
class StaleClaim:
    """A key claimed but never finished."""

    key: str
    application_id: int
    recipient: str
    claimed_at: datetime


def stale_claims(db: Database, claimed_before: datetime) -> list[StaleClaim]:
    """Keys claimed but never finished: the process that claimed them died mid-send."""
    log = models.ReminderLog
    with db.session() as session:
        return [StaleClaim(*row) for row in session.execute(
            select(log.key, log.application_id, log.recipient, log.claimed_at)
            .where(log.status == CLAIMED, log.claimed_at < claimed_before)
        )]


def _record_skipped(session: Session, keys: list[str] | tuple[str, ...], application_id: int, item_id: str,
                    reason: str, now: datetime) -> None:
    if not keys:
        return
    connection = session.connection()
    connection.execute(
        insert_unless_present(connection.dialect.name, models.ReminderLog),
        [dict(key=key, application_id=application_id, item_id=item_id, status=SKIPPED,
              recipient="", attempts=0, error=reason[:200], claimed_at=now) for key in keys],
    )


def finish(db: Database, outcome: Outcome, now: datetime) -> None:
    with db.session() as session:
        _finish(session, outcome, now)


# Built once: a pass runs them for every send, and building a statement costs more than running it.
_FINISH = (
    update(models.ReminderLog)
    .where(models.ReminderLog.key == bindparam("finished_key"))
    .values(status=bindparam("new_status"), sent_at=bindparam("at"), error=bindparam("why"))
)


def _finish(session: Session, outcome: Outcome, now: datetime) -> None:
    session.connection().execute(_FINISH, dict(
        finished_key=outcome.key, new_status=SENT if outcome.ok else FAILED, at=now if outcome.ok else None,
        why=outcome.error[:200],
    ))


def failed_flips(db: Database, kind: str) -> list[tuple[str, int]]:
    """Expiry notices whose send failed: (key, evidence id), to be retried. The flip itself
    already happened, so the flows no longer report them as due."""
    with db.session() as session:
        keys = session.scalars(
            select(models.ReminderLog.key).where(
                models.ReminderLog.status == FAILED, models.ReminderLog.key.startswith(kind),
                models.ReminderLog.key.endswith(":-1"),
            )
        ).all()
    return [(key, int(key[len(kind):].partition(":")[0])) for key in keys]


def evidence_facts(db: Database, evidence_ids: set[int]) -> dict[int, tuple[int, str, date | None]]:
    """(application id, item id, expires_on) of some evidence rows."""
    if not evidence_ids:
        return {}
    with db.session() as session:
        return {
            ident: (application_id, item_id, expires_on)
            for ident, application_id, item_id, expires_on in session.execute(
                select(models.Evidence.id, models.Answer.application_id, models.Answer.item_id,
                       models.Evidence.expires_on)
                .join(models.Answer, models.Evidence.answer_id == models.Answer.id)
                .where(models.Evidence.id.in_(evidence_ids))
            )
        }


@dataclass(frozen=True)
class Flip:
    """What :func:`flip_expired` did."""

    expired: bool  # the answer is expired afterwards; False: someone changed it meanwhile
    voided_sign_off_by: str | None = None  # the reviewer whose approval the flip voided


def flip_expired(db: Database, application_id: int, item_id: str, actor: str, now: datetime) -> Flip:
    """met → expired, with history (and the approval it voids: flows.sign_off). Expired
    also when an earlier, interrupted pass flipped it."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        answer = before.answer(item_id)
        if answer.status != MET:
            return Flip(expired=answer.status == EXPIRED)
        after, voided = settle(get_checklist(*before.release_key), before,
                               before.with_answer(item_id, replace(answer, status=EXPIRED)))
        applications._save(session, application_id, before, after, actor, now)
    return Flip(expired=True, voided_sign_off_by=voided[0].review.by if voided else None)


def case_study_expiry(db: Database, case_study_id: int, window: Item) -> date | None:
    with db.session() as session:
        row = session.get(models.CaseStudy, case_study_id)
        return window.expiry(row.production_date) if row and row.production_date else None


def snooze(db: Database, application_id: int, target: str, until: datetime, actor: str, now: datetime) -> None:
    """Snooze an item's newest dated evidence, or a case study (``c<id>``); with history."""
    if target.startswith(CASE_STUDY):
        with db.session() as session:
            row = session.get(models.CaseStudy, int(target[len(CASE_STUDY):]))
            if row is None or row.application_id != application_id:
                return
            row.snoozed_until = until
            session.add(models.HistoryEntry(application_id=application_id, item_id=None,
                                            field=f"case_study:{row.id}:snoozed_until", old_value=None,
                                            new_value=until.isoformat(), actor=actor, at=now))
        return
    item_id = target
    with db.session() as session:
        evidence = session.scalars(
            select(models.Evidence)
            .join(models.Answer, models.Evidence.answer_id == models.Answer.id)
            .where(models.Answer.application_id == application_id, models.Answer.item_id == item_id,
                   models.Evidence.evidence_date.is_not(None))
            .order_by(models.Evidence.evidence_date.desc(), models.Evidence.id.desc())
            .limit(1)
        ).first()
        if evidence is None:
            return
        evidence.snoozed_until = until
        session.add(models.HistoryEntry(application_id=application_id, item_id=item_id, field="snoozed_until",
                                        old_value=None, new_value=until.isoformat(), actor=actor, at=now))


def user_timezones(db: Database, team_id: str) -> dict[str, str]:
    with db.session() as session:
        return dict(session.execute(
            select(models.SlackUser.user_id, models.SlackUser.timezone).where(models.SlackUser.team_id == team_id)
        ).all())


def remember_timezone(db: Database, team_id: str, user_id: str, timezone: str, now: datetime) -> None:
    """Keep a user's time zone. Their reminders' moments move with it, and a Slack user's
    zone writes no history: the applications they are assignees in are looked at by the
    next pass."""
    with db.session() as session:
        session.merge(models.SlackUser(team_id=team_id, user_id=user_id, timezone=timezone, fetched_at=now))
        assigned = (select(models.Answer.application_id)
                    .join(models.Application, models.Answer.application_id == models.Application.id)
                    .where(models.Application.team_id == team_id, models.Answer.assignee == user_id))
        session.execute(update(models.ReminderCheck)
                        .where(models.ReminderCheck.application_id.in_(assigned)).values(check_at=now))


def assignees_without_timezone(db: Database) -> list[tuple[str, str]]:
    """(team, user) pairs that are assignees of dated evidence but whose zone is unknown."""
    with db.session() as session:
        return list(session.execute(
            select(models.Application.team_id, models.Answer.assignee)
            .join(models.Answer, models.Answer.application_id == models.Application.id)
            .outerjoin(models.SlackUser, (models.SlackUser.team_id == models.Application.team_id)
                       & (models.SlackUser.user_id == models.Answer.assignee))
            .where(models.Answer.assignee != "", models.Application.team_id != "",
                   models.SlackUser.user_id.is_(None))
            .distinct()
        ).all())


@dataclass(frozen=True)
class ApplicationTarget:
    """What a reminder pass needs of an application to address and word its messages."""

    id: int
    team_id: str
    channel_id: str
    pdm_channel_id: str
    partner_name: str
    language: str
    timezone: str
    target_audit_date: date | None
    checklist_id: str
    checklist_release: str

    @property
    def release_key(self) -> tuple[str, str]:
        return (self.checklist_id, self.checklist_release)


_TARGET_COLUMNS = tuple(models.Application.__table__.c[field.name] for field in fields(ApplicationTarget))


def application_targets(db: Database, application_ids: set[int]) -> dict[int, ApplicationTarget]:
    """The applications a pass talks about: channel, PDM channel, language."""
    if not application_ids:
        return {}
    with db.session() as session:
        rows = session.execute(select(*_TARGET_COLUMNS).where(models.Application.id.in_(application_ids)))
        return {row.id: ApplicationTarget(*row) for row in rows}


def evidence_text(db: Database, evidence_ids: set[int]) -> dict[int, tuple[str, date | None]]:
    if not evidence_ids:
        return {}
    with db.session() as session:
        return {
            ident: (text, evidence_date)
            for ident, text, evidence_date in session.execute(
                select(models.Evidence.id, models.Evidence.text, models.Evidence.evidence_date)
                .where(models.Evidence.id.in_(evidence_ids))
            )
        }
