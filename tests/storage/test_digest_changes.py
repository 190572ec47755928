"""What changed since each channel's last digest, counted in SQL by :func:`storage.digests.load`:
the same as reading every history row after the channel's moment, one by one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from flows.application import MET, NOT_MET
from flows.digest import FIRST_DIGEST_LOOKBACK, NO_CHANGES, Changes, Schedule
from storage import digests, models
from storage.db import Database
from tests.support.seed import NOW, seed

DEFAULT_CHANNEL = "CPDM01"  # also the channel of applications without one of their own


def _row(application_id: int, item_id: str | None, field: str, old: str | None, new: str | None,
         at: datetime) -> dict:
    return dict(application_id=application_id, item_id=item_id, field=field, old_value=old, new_value=new,
                actor="UALICE", at=at)


def _read_one_by_one(db: Database, since: dict[str, datetime]) -> dict[int, Changes]:
    """Every history row, in order, kept when after its channel's moment."""
    with db.session() as session:
        channel_of = {id_: pdm or DEFAULT_CHANNEL for id_, pdm in session.execute(
            select(models.Application.id, models.Application.pdm_channel_id))}
        rows = session.execute(select(models.HistoryEntry).order_by(models.HistoryEntry.id)).scalars().all()
        first_old: dict[int, dict[str, str | None]] = {}
        last_new: dict[int, dict[str, str | None]] = {}
        evidence: dict[int, int] = {}
        created: set[int] = set()
        for row in rows:
            if row.at <= since[channel_of[row.application_id]]:
                continue
            if row.field == "status" and row.item_id:
                first_old.setdefault(row.application_id, {}).setdefault(row.item_id, row.old_value)
                last_new.setdefault(row.application_id, {})[row.item_id] = row.new_value
            elif row.field == "evidence" and row.new_value is not None:  # added, not taken away
                evidence[row.application_id] = evidence.get(row.application_id, 0) + 1
            elif row.field == "created":
                created.add(row.application_id)
    return {application_id: Changes(
                tuple((item_id, first_old[application_id][item_id], new)
                      for item_id, new in last_new.get(application_id, {}).items()),
                evidence.get(application_id, 0), application_id in created)
            for application_id in last_new.keys() | evidence.keys() | created}


def test_the_changes_counted_in_sql_are_those_of_the_history_rows(db):
    """On a seeded database with, besides its week of new statuses and evidence: statuses
    changed several times and changed back, status rows without an item, creations, rows
    of other fields, rows older than the channel's last digest (posted three days ago for
    one channel, never for the others) and applications in the default channel."""
    seed(db, 300, NOW, channels=4)
    with db.session() as session:
        ids = session.scalars(select(models.Application.id).order_by(models.Application.id)).all()
        session.execute(update(models.Application).where(models.Application.id % 7 == 0).values(pdm_channel_id=""))
        extra = []
        for n, application_id in enumerate(ids):
            at = NOW - timedelta(hours=n % 200)  # from now to eight days back
            if n % 3 == 0:
                extra += [_row(application_id, "T1.24", "status", None, NOT_MET, at),
                          _row(application_id, "T1.24", "status", NOT_MET, MET, at + timedelta(minutes=1)),
                          _row(application_id, "P1.2", "status", MET, NOT_MET, at - timedelta(minutes=1))]
            if n % 4 == 0:  # changed back
                extra += [_row(application_id, "P1.1", "status", MET, NOT_MET, at),
                          _row(application_id, "P1.1", "status", NOT_MET, MET, at + timedelta(days=1))]
            if n % 5 == 0:
                extra += [_row(application_id, None, "created", None, "Partner", at),
                          _row(application_id, None, "status", None, MET, at),
                          _row(application_id, "P1.3", "note", "", "a note", at),
                          _row(application_id, "T1.24", "evidence", "https://old.example", None, at)]  # taken away
        session.execute(insert(models.HistoryEntry), extra)
        session.add(models.DigestLog(key="posted", team_id="T0TEAM", channel_id="CPDM00", status=digests.POSTED,
                                     posted_at=NOW - timedelta(days=3), claimed_at=NOW - timedelta(days=3)))
    wanted = digests.channels(db, DEFAULT_CHANNEL, Schedule())
    assert [channel.channel_id for channel in wanted] == ["CPDM00", "CPDM01", "CPDM02", "CPDM03"]
    since = {channel.channel_id: NOW - FIRST_DIGEST_LOOKBACK for channel in wanted}
    since["CPDM00"] = NOW - timedelta(days=3)

    loaded = digests.load(db, wanted, DEFAULT_CHANNEL, NOW)

    counted = {entry.state.id: entry.changes for data in loaded for entry in data.applications
               if entry.changes is not NO_CHANGES}
    expected = _read_one_by_one(db, since)
    assert counted == expected
    assert sum(len(changes.statuses) for changes in expected.values()) > 500  # the comparison compares
    assert any(old == new for changes in expected.values() for _, old, new in changes.statuses)
    assert sum(changes.created for changes in expected.values()) > 10
