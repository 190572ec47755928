"""What the PDM digest reads and records: channels, every application's rows, history, claims.

:func:`load` reads every application of the given PDM channels with a fixed number of
queries (seven, whatever the number of applications or channels): it filters by the
applications' PDM channel in each query instead of loading application by application,
and builds the states from plain rows. ``selectinload`` is not used here because it
sends one more IN query per 500 parents. The states hold only what readiness reads:
each answer's status, its sign-off decision and its dated evidence's dates (the newest
dated evidence decides expiry); notes, who answered, evidence texts and undated evidence are left out, which
more than halves the time over a thousand applications.

The states are built by :func:`storage.applications._to_state`, the one row→state
function; this is the second read path its module describes, kept for speed
(``bench/digest_bench.py``: a thousand applications at once).

An application's PDM channel is its own ``pdm_channel_id``, or ``default_channel`` (the
``PDM_CHANNEL`` setting) when it has none. Channels are told apart by channel id.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, Select, and_, case, false, func, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from flows import application as domain
from flows.digest import FIRST_DIGEST_LOOKBACK, NO_CHANGES, ApplicationInput, Changes, DigestChannel, Schedule
from flows.history import CREATED
from flows.sign_off import Review
from storage import applications, drills, models
from storage.case_studies import _case_studies_from, _case_studies_query, _to_documents
from storage.db import Database, insert_unless_present, rows_ahead

CLAIMED = "claimed"
POSTED = "posted"
FAILED = "failed"
# A claim this old without an outcome belongs to a process that died while posting.
STALE_CLAIM = timedelta(minutes=10)


@dataclass(frozen=True)
class ChannelData:
    channel: DigestChannel
    since: datetime | None  # when its last digest was posted; None = never
    applications: tuple[ApplicationInput, ...]  # each with its changes since ``since``


class _SharedAnswers(dict[str, domain.Answer]):
    """Answers without dated evidence are equal whenever their status and decision are:
    one shared value for each "status=decision" (:func:`load`'s aggregated answers)."""

    def __missing__(self, outcome: str) -> domain.Answer:
        status, decision = outcome.split("=")
        # Readiness reads whether a decision stands, not who made it or when.
        answer = domain.Answer(status=status or None, review=Review(decision, "", None) if decision else None)
        self[outcome] = answer
        return answer


def _for_channels(channel_ids: list[str], default_channel: str) -> ColumnElement[bool]:
    pdm = models.Application.pdm_channel_id
    condition = pdm.in_(channel_ids) if channel_ids else false()
    if default_channel and default_channel in channel_ids:
        condition = or_(condition, pdm == "")
    return condition


def _settings(row: models.PdmChannel | None, channel_id: str, team_id: str, schedule: Schedule) -> DigestChannel:
    if row is None:
        return DigestChannel(channel_id=channel_id, team_id=team_id, schedule=schedule)
    return DigestChannel(
        channel_id=channel_id,
        team_id=row.team_id,
        language=row.language,
        timezone=row.timezone,
        schedule=Schedule(row.digest_day, row.digest_hour),
    )


def channels(db: Database, default_channel: str, default_schedule: Schedule) -> list[DigestChannel]:
    """Every PDM channel that has at least one application, with its settings (two queries)."""
    with db.session() as session:
        found = session.execute(
            select(models.Application.pdm_channel_id, func.max(models.Application.team_id))
            .group_by(models.Application.pdm_channel_id)
        ).all()
        teams: dict[str, str] = {}
        for channel_id, team_id in found:
            channel_id = channel_id or default_channel
            if channel_id:
                teams[channel_id] = teams.get(channel_id) or team_id or ""
        rows = {row.channel_id: row for row in session.scalars(select(models.PdmChannel))}
    return [_settings(rows.get(channel), channel, team, default_schedule) for channel, team in sorted(teams.items())]


def load(db: Database, wanted: list[DigestChannel], default_channel: str, now: datetime) -> list[ChannelData]:
    """Everything the digests of ``wanted`` need, in seven queries (the seventh: drill plans)."""
    ids = [channel.channel_id for channel in wanted]
    in_channels = _for_channels(ids, default_channel)
    with db.session() as session:
        # Plain rows throughout (Core, not ORM objects): nothing loaded here is written back,
        # and building thousands of ORM objects was most of the time.
        connection = session.connection()
        last_posted = dict(
            connection.execute(
                select(models.DigestLog.channel_id, func.max(models.DigestLog.posted_at))
                .where(models.DigestLog.status == POSTED, models.DigestLog.channel_id.in_(ids))
                .group_by(models.DigestLog.channel_id)
            ).all()  # rows, not the result: a result has keys() and dict() would take it for a mapping
        )
        since = {channel_id: last_posted.get(channel_id) or now - FIRST_DIGEST_LOOKBACK for channel_id in ids}
        # Each query's rows are worked through while the next ones run (rows_ahead): the
        # aggregated answers first, the rows that take Python longest (split below), while
        # the server runs the rest.
        with closing(rows_ahead(connection, [
            # One row per application, its answers as "item=status;…" (item ids and statuses
            # never hold "=" or ";"): tens of thousands of rows cost far more than the strings.
            select(models.Answer.application_id,
                   func.aggregate_strings(models.Answer.item_id + "=" + func.coalesce(models.Answer.status, "")
                                          + "=" + func.coalesce(models.Answer.review_decision, ""), ";"))
            .join(models.Application).where(in_channels).group_by(models.Answer.application_id),
            select(models.Application.__table__).where(in_channels).order_by(models.Application.id),
            _case_studies_query(in_channels),
            select(models.Answer.application_id, models.Answer.item_id, models.Evidence.id,
                   models.Evidence.evidence_date, models.Evidence.expires_on)
            .join(models.Answer).join(models.Application)
            .where(in_channels, models.Evidence.evidence_date.is_not(None))
            .order_by(models.Evidence.id),
            drills._newest_query(None, in_channels),
            _changes_query(since, default_channel),
        ])) as fetched:
            answers_by_application: dict[int, dict[str, domain.Answer]] = {}
            undated = _SharedAnswers()
            for application_id, answer_list in next(fetched):
                # Item id → "status=decision", split by str and dict in C rather than triple by
                # triple: a thousand applications hold tens of thousands of answers.
                outcomes = dict(entry.split("=", 1) for entry in answer_list.split(";"))
                answers_by_application[application_id] = {item_id: undated[outcome]
                                                          for item_id, outcome in outcomes.items()}
            rows = next(fetched)
            case_studies = _case_studies_from(next(fetched))
            dated: dict[int, dict[str, list[domain.Evidence]]] = {}  # by application, then item
            for application_id, item_id, evidence_id, evidence_date, expires_on in next(fetched):
                dated.setdefault(application_id, {}).setdefault(item_id, []).append(
                    domain.Evidence(text="", evidence_date=evidence_date, expires_on=expires_on, id=evidence_id)
                )
            for application_id, by_item in dated.items():
                answers = answers_by_application[application_id]
                for item_id, evidence in by_item.items():
                    shared = answers[item_id]
                    answers[item_id] = domain.Answer(status=shared.status, evidence=tuple(evidence),
                                                     review=shared.review)
            plans = drills._plans_from(next(fetched))
            changes = _changes_from(next(fetched))

    channel_of = {row.id: row.pdm_channel_id or default_channel for row in rows}
    inputs: dict[str, list[ApplicationInput]] = {channel_id: [] for channel_id in ids}
    for row in rows:
        inputs[channel_of[row.id]].append(
            ApplicationInput(
                applications._to_state(row, answers_by_application.get(row.id, {})),
                tuple(case_studies.get(row.id, ())),
                _to_documents(row),
                plans.get(row.id, {}),
                changes.get(row.id, NO_CHANGES),
            )
        )
    return [
        ChannelData(channel, last_posted.get(channel.channel_id), tuple(inputs[channel.channel_id]))
        for channel in wanted
    ]


def _changes_query(since: dict[str, datetime], default_channel: str) -> Select:
    """The rows of :func:`_changes_from`: each application's changes after its channel's
    moment in ``since``, counted in SQL — one row per application and field, per item for
    statuses, with the status before its first change and after its last — rather than
    every history row (tens of thousands a week over ten thousand applications)."""
    entry, first, last = models.HistoryEntry, aliased(models.HistoryEntry), aliased(models.HistoryEntry)
    channels_since: dict[datetime, list[str]] = {}
    for channel_id, moment in since.items():
        channels_since.setdefault(moment, []).append(channel_id)
    window = or_(false(), *(and_(_for_channels(channel_ids, default_channel), entry.at > moment)
                            for moment, channel_ids in channels_since.items()))
    # A literal, not a bound parameter: the select and the GROUP BY must hold the same
    # expression, and each bound parameter would be a parameter of its own to PostgreSQL.
    status_item = case((entry.field == literal_column("'status'"), entry.item_id))
    grouped = (
        select(entry.application_id, entry.field, status_item.label("status_item"), func.count().label("rows"),
               func.min(entry.id).label("first_id"), func.max(entry.id).label("last_id"))
        .join(models.Application)
        # Evidence rows count only as additions: an undo that takes a piece away writes
        # one with no new value, and "evidence added" must not count it.
        .where(window, or_(entry.field == CREATED, and_(entry.field == "evidence", entry.new_value.is_not(None)),
                           and_(entry.field == "status", entry.item_id != "")))
        .group_by(entry.application_id, entry.field, status_item)
        .subquery()
    )
    return (
        select(grouped.c.application_id, grouped.c.field, grouped.c.status_item, grouped.c.rows,
               first.old_value, last.new_value)
        .join(first, first.id == grouped.c.first_id).join(last, last.id == grouped.c.last_id)
        .order_by(grouped.c.first_id)  # statuses in the order of their first change
    )


def _changes_from(rows: Iterable[Row]) -> dict[int, Changes]:
    """:func:`_changes_query`'s rows as each application's :class:`Changes`."""
    statuses: dict[int, list[tuple[str, str | None, str | None]]] = {}
    evidence: dict[int, int] = {}
    created: set[int] = set()
    for application_id, field_name, item_id, rows_counted, old, new in rows:
        if field_name == "status":
            statuses.setdefault(application_id, []).append((item_id, old, new))
        elif field_name == CREATED:
            created.add(application_id)
        else:
            evidence[application_id] = rows_counted
    return {application_id: Changes(tuple(statuses.get(application_id, ())), evidence.get(application_id, 0),
                                    application_id in created)
            for application_id in statuses.keys() | evidence.keys() | created}


def claim(db: Database, key: str, channel: DigestChannel, now: datetime) -> bool:
    """Take the digest ``key`` for this process; False when it is posted or being posted.

    A failed post, or a claim older than :data:`STALE_CLAIM`, is taken over, by exactly one
    process (a conditional UPDATE).
    """
    with db.session() as session:
        connection = session.connection()
        inserted = connection.execute(
            insert_unless_present(connection.dialect.name, models.DigestLog, returning="key"),
            dict(key=key, team_id=channel.team_id, channel_id=channel.channel_id, status=CLAIMED, ts="",
                 claimed_at=now),
        ).first()
        if inserted is not None:
            return True
        taken = connection.execute(
            update(models.DigestLog)
            .where(
                models.DigestLog.key == key,
                or_(models.DigestLog.status == FAILED,
                    and_(models.DigestLog.status == CLAIMED, models.DigestLog.claimed_at < now - STALE_CLAIM)),
            )
            .values(status=CLAIMED, claimed_at=now)
        )
        return taken.rowcount == 1


def mark_posted(db: Database, key: str, ts: str, now: datetime) -> None:
    with db.session() as session:
        session.execute(
            update(models.DigestLog).where(models.DigestLog.key == key).values(status=POSTED, ts=ts, posted_at=now)
        )


def mark_failed(db: Database, key: str) -> None:
    with db.session() as session:
        session.execute(update(models.DigestLog).where(models.DigestLog.key == key).values(status=FAILED))


def set_pdm_channel(
    db: Database, application_id: int, channel: DigestChannel, actor: str, now: datetime
) -> DigestChannel:
    """Point the application at a PDM channel (recorded in its history); a channel seen for
    the first time gets a settings row with ``channel``'s defaults. Returns the channel's settings."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        applications._save(session, application_id, before, replace(before, pdm_channel=channel.channel_id),
                          actor, now)
        stored = session.get(models.PdmChannel, (channel.team_id, channel.channel_id))
        if stored is None:
            try:
                with session.begin_nested():  # another process may create it at the same moment
                    session.add(models.PdmChannel(
                        team_id=channel.team_id, channel_id=channel.channel_id, language=channel.language,
                        timezone=channel.timezone, digest_day=channel.schedule.day,
                        digest_hour=channel.schedule.hour,
                    ))
            except IntegrityError:
                pass
            stored = session.get(models.PdmChannel, (channel.team_id, channel.channel_id))
        return _settings(stored, channel.channel_id, channel.team_id, channel.schedule)
