"""Storage round trips and history, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import event, text

from flows.application import EXPIRED, MET, ApplicationState
from storage import applications, walks
from storage.db import (
    Database,
    SchemaUpgradeFailed,
    current_revision,
    ensure_schema,
    head_revision,
    normalise_url,
    rows_ahead,
    upgrade,
)
from storage.errors import DatabaseUnavailable, PartnerExists
from tests.support.cli import bot
from tests.support.db import POSTGRES_URL, reset_postgres
from tests.support.web import web_app_in_a_fresh_process


def new_application(db, now, partner="Acme Retail"):
    return walks.start(
        db,
        ApplicationState(partner=partner, delivery_type="saas", checklist_id="aws-retail-competency",
                         categories=("stores",), language="en", target_audit_date=date(2027, 3, 1)),
        actor="alice", now=now,
    )


def test_schema_is_at_head(db):
    assert current_revision(db) == head_revision() is not None


def test_schema_is_ensured_and_the_web_app_built_without_loading_what_serving_never_needs(tmp_path):
    # A fresh process, as the web server starts: the schema check runs in a child process;
    # exports, drill invites, the manifest and token encryption load their libraries when used;
    # tornado serves Bolt itself (no WSGI framework in between).
    loaded = web_app_in_a_fresh_process(
        tmp_path, "print(sorted(m for m in ('alembic', 'mako', 'openpyxl', 'icalendar', 'yaml', 'cryptography',"
                  " 'flask', 'werkzeug', 'click') if m in sys.modules))\n")
    assert loaded.strip() == "[]"
    db = Database(f"sqlite:///{tmp_path}/fresh.db")
    assert current_revision(db) == head_revision() is not None


def test_a_failed_schema_upgrade_is_reported(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/odd.db")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('not-a-revision')"))
    with pytest.raises(SchemaUpgradeFailed, match="exited with status 1"):
        ensure_schema(db)
    run = bot(f"sqlite:///{tmp_path}/odd.db", "export", "--partner", "Acme")
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "competency-bot: the database schema could not be brought up to date "
        "(its error is above; `competency-bot db upgrade` repeats it)")


def test_answers_evidence_and_history_round_trip(db, now):
    state = new_application(db, now)
    for line in ("goto T1.24", "yes", "note rehearsed with ops", "https://wiki.example.com/ir-drill", "2026-02-10"):
        walks.step(db, state.id, line, "alice", now)
    walks.step(db, state.id, "goto T2.9", "bob", now + timedelta(minutes=1))
    walks.step(db, state.id, "yes", "bob", now + timedelta(minutes=1))
    walks.step(db, state.id, "AZ game day", "bob", now + timedelta(minutes=1))
    walks.step(db, state.id, "2025-01-05", "bob", now + timedelta(minutes=1))

    stored = walks.find(db, "acme retail")  # partner names match case-insensitively
    assert stored.id == state.id and stored.categories == ("stores",)
    assert stored.target_audit_date == date(2027, 3, 1)
    drill = stored.answer("T1.24")
    assert drill.status == MET and drill.note == "rehearsed with ops" and drill.answered_by == "alice"
    assert drill.evidence[0].evidence_date == date(2026, 2, 10) and drill.expires_on == date(2027, 2, 10)
    assert stored.answer("T2.9").status == EXPIRED
    assert stored.cursor == "T2.10"

    entries = [(h.item_id, h.field, h.old_value, h.new_value, h.actor)
               for h in applications.history(db, state.id)]
    assert (None, "created", None, "Acme Retail", "alice") in entries
    assert ("T1.24", "status", None, "met", "alice") in entries
    assert ("T1.24", "evidence", None, "https://wiki.example.com/ir-drill", "alice") in entries
    assert ("T1.24", "evidence_date", None, "2026-02-10", "alice") in entries
    assert ("T2.9", "status", "met", "expired", "bob") in entries


def test_changing_an_answer_is_history_not_overwrite(db, now):
    state = new_application(db, now)
    walks.step(db, state.id, "no", "alice", now)
    walks.step(db, state.id, "goto P1.1", "bob", now)
    walks.step(db, state.id, "yes", "bob", now)
    changes = [(h.old_value, h.new_value, h.actor) for h in applications.history(db, state.id)
               if h.field == "status" and h.item_id == "P1.1"]
    assert changes == [(None, "not_met", "alice"), ("not_met", "met", "bob")]


def test_one_application_per_partner(db, now):
    new_application(db, now)
    with pytest.raises(PartnerExists):
        new_application(db, now, partner="ACME  retail")


def test_heroku_urls_are_accepted():
    assert normalise_url("postgres://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_transactions_of_one_process_take_turns(sqlite_db):
    """A second thread's transaction starts only once the first has ended (it waits on
    the process's turn, not in SQLite's busy handler)."""
    events: list[str] = []
    begins: list[str] = []
    first_open = threading.Event()
    event.listen(sqlite_db.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: begins.append(statement) if statement.startswith("BEGIN") else None)

    def second() -> None:
        first_open.wait()
        with sqlite_db.session() as session:
            session.execute(text("SELECT 1"))  # a session takes its connection here
            events.append("second began")

    waiter = threading.Thread(target=second)
    waiter.start()
    with sqlite_db.session() as session:
        session.execute(text("SELECT 1"))
        first_open.set()
        waiter.join(timeout=0.3)  # time for the second to reach the pool
        # Waiting for its turn, it has not sent BEGIN; in SQLite's busy handler it would have.
        assert begins == ["BEGIN IMMEDIATE"]
        events.append("first ended")
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert events == ["first ended", "second began"]


def test_an_unreachable_database_is_storage_s_own_error(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/no/such/folder/x.db")
    with pytest.raises(DatabaseUnavailable):
        db.ping()
    with pytest.raises(DatabaseUnavailable):
        walks.find(db, "Acme")
    run = bot(f"sqlite:///{tmp_path}/no/such/folder/x.db", "export", "--partner", "Acme")
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == "competency-bot: cannot use the database: unable to open database file"


def test_a_reachable_database_answers_a_ping(db):
    db.ping()


def test_history_is_plain_values(db, now):
    state = new_application(db, now)
    [created] = applications.history(db, state.id)
    assert created == applications.HistoryRecord(None, "created", None, "Acme Retail", "alice", now)


def test_every_answer_given_again_is_a_history_row(db, now):
    """Alice, then Bob, then Carol press Met: three rows, and the last names who the
    export says answered."""
    state = new_application(db, now)
    for minutes, person in enumerate(("alice", "bob", "carol")):
        walks.on_item(db, state.id, "P1.1", "yes", person, now + timedelta(minutes=minutes))
    rows = [(h.old_value, h.new_value, h.actor, h.at) for h in applications.history(db, state.id)
            if h.item_id == "P1.1" and h.field == "status"]
    assert [row[:3] for row in rows] == [(None, "met", "alice"), ("met", "met", "bob"), ("met", "met", "carol")]
    answer = walks.load(db, state.id).answer("P1.1")
    assert (answer.answered_by, answer.answered_at) == ("carol", rows[-1][3])


@pytest.mark.parametrize("statement", [
    "UPDATE history SET new_value = 'forged'",
    "DELETE FROM history",
    "TRUNCATE history",
    "DELETE FROM applications",  # the cascade would delete the history with it
])
def test_postgresql_refuses_to_change_or_delete_history(db, now, statement):
    if db.is_sqlite:
        pytest.skip("the trigger is PostgreSQL's")
    from sqlalchemy.exc import DBAPIError

    state = new_application(db, now)
    walks.step(db, state.id, "yes", "alice", now)
    before = applications.history(db, state.id)
    with pytest.raises(DBAPIError, match="history is append-only"), db.engine.begin() as connection:
        connection.execute(text(statement))
    assert applications.history(db, state.id) == before


@pytest.mark.parametrize("first, second", [
    ("Acme", "Ａｃｍｅ"),  # fullwidth
    ("Acme", "Acme\u200b"),  # zero-width space
    ("Acme", "A\u200dcme"),  # zero-width joiner
    ("Caf\u00e9", "Cafe\u0301"),  # NFC and NFD
    ("İstanbul", "Istanbul"),
    ("Straße", "STRASSE"),
])
def test_one_partner_however_its_name_is_written(db, now, first, second):
    new_application(db, now, partner=first)
    assert walks.find(db, second).partner == first
    with pytest.raises(PartnerExists):
        new_application(db, now, partner=second)


def test_keys_stored_by_the_old_rule_are_recomputed_unless_two_would_clash(tmp_path, now):
    from sqlalchemy import text as sql

    from storage import walks
    from storage.db import Database, upgrade

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0006")
    keys_in_t2 = sql("SELECT partner_name, partner_key FROM applications WHERE team_id = 'T2'")
    # Rows as the code of revision 0006 wrote them (today's code writes today's columns).
    insert = sql("INSERT INTO applications (checklist_id, team_id, channel_id, partner_name, partner_key, "
                 "delivery_type, categories, language, timezone, finished, created_by, created_at, updated_at) "
                 "VALUES ('aws-retail-competency', :team, :channel, :partner, :partner, 'saas', '[]', 'en', "
                 "'UTC', :finished, 'alice', :now, :now)")
    with db.engine.begin() as connection:
        for team, partner in (("T1", "Ａｃｍｅ Retail"), ("T2", "Acme"), ("T3", "ＡＣＭＥ")):
            connection.execute(insert, dict(team=team, channel=f"C{team}", partner=partner, finished=False, now=now))
    with db.engine.begin() as connection:  # the keys as the old rule made them; two spellings in one workspace
        connection.execute(sql("UPDATE applications SET partner_key = lower(partner_name)"))
        connection.execute(sql("UPDATE applications SET team_id = 'T2' WHERE team_id = 'T3'"))
        before = dict(connection.execute(keys_in_t2).all())
    upgrade(db)
    found = walks.find(db, "acme retail", "T1")
    assert found.partner == "Ａｃｍｅ Retail"
    assert found.checklist_release == "1.0"  # pinned by 0011 to the one release there was
    with db.engine.connect() as connection:
        after = dict(connection.execute(keys_in_t2).all())
    assert after == before  # one partner by the new rule: both keep their keys, for a person to merge
    db.engine.dispose()


def test_a_step_that_waited_for_the_lock_reads_the_answers_the_other_step_wrote(db, now):
    """Two steps on one application at once (two thread replies, say): the second waits
    for the first's lock and then must read the answer the first inserted. A locking
    read that joined the answers saw them as they were when it began waiting, and the
    second step inserted the same answer again (a duplicate key)."""
    if db.is_sqlite:
        pytest.skip("SQLite takes the write lock at BEGIN: the second step cannot start before the first ends")
    from flows.application import Answer

    state = new_application(db, now)
    seen: dict[str, ApplicationState] = {}

    def second_step() -> None:
        with db.session() as session:
            seen["state"] = applications._load_state(session, state.id, lock=True)

    def waiting_on_a_lock() -> bool:
        with db.engine.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one() > 0

    with db.session() as first:
        before = applications._load_state(first, state.id, lock=True)
        applications._save(first, state.id, before,
                           before.with_answer("P1.1", Answer(status=MET, answered_by="alice", answered_at=now)),
                           "alice", now)
        waiting = threading.Thread(target=second_step)
        waiting.start()
        deadline = time.monotonic() + 10
        while not waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_on_a_lock()  # the second step has begun its read and waits
    waiting.join(10)
    assert seen["state"].answer("P1.1").status == MET


def test_a_statement_run_by_the_driver_gets_sqlalchemy_s_conversions_and_a_transaction_after_it(tmp_path, now):
    """``Database.first_row`` runs a statement on the pooled connection's driver: its
    parameters are converted as SQLAlchemy converts them (the pending step's JSON here),
    it commits by itself, and the connection goes back to the pool as it came, so the
    next session on it is a transaction again."""
    if POSTGRES_URL is None:
        pytest.skip("the driver path is PostgreSQL's")
    from sqlalchemy import bindparam, select, update

    from storage.models import Application

    db = Database(POSTGRES_URL, pool_size=1)  # one connection: the session below gets the same one
    try:
        reset_postgres(db)
        upgrade(db)
        state = new_application(db, now)
        table = Application.__table__
        statement = select(table.c.id).add_cte(
            update(table).where(table.c.id == bindparam("where_id"))
            .values(pending=bindparam("pending", type_=table.c.pending.type),
                    updated_at=bindparam("updated_at", type_=table.c.updated_at.type)).cte("written"))
        row = db.first_row(statement, {"where_id": state.id, "pending": {"item_id": "P1.2", "awaiting": "date"},
                                       "updated_at": now})
        assert row.id == state.id
        assert walks.load(db, state.id).pending.item_id == "P1.2"  # committed, and stored as JSON

        with pytest.raises(RuntimeError), db.session() as session:
            session.execute(update(table).values(cursor_item="P1.3"))
            raise RuntimeError("the session fails: its change must not stay")
        assert walks.load(db, state.id).cursor != "P1.3"
    finally:
        db.engine.dispose()


def test_a_statement_that_needs_more_of_sqlalchemy_is_refused_by_the_driver_path(db, now):
    """What SQLAlchemy does around an execution is not skipped silently: results it would
    convert (aware UTC datetimes), values it would compute (an update time set on update)."""
    if db.is_sqlite:
        pytest.skip("the driver path is PostgreSQL's")
    from sqlalchemy import select, update

    from storage.models import Application

    table = Application.__table__
    state = new_application(db, now)
    with pytest.raises(ValueError, match="results need"):
        db.first_row(select(table.c.updated_at), {})
    with pytest.raises(ValueError, match="needs SQLAlchemy's execution"):
        db.first_row(select(table.c.id).add_cte(update(table).values(cursor_item="P1.3").cte("written")), {})
    assert walks.load(db, state.id).cursor != "P1.3"


def test_rows_fetched_ahead_come_statement_by_statement_and_stop_with_the_caller(db, now):
    """Each statement's rows in order, from the caller's transaction (its own write is
    seen); an error is raised at its statement's turn; left early, the connection is free
    again at once for the caller's next statement (PostgreSQL: no statement still running
    on the fetching thread)."""
    from contextlib import closing

    from sqlalchemy import select

    from storage.models import Application

    first, second = new_application(db, now), new_application(db, now, partner="Bravo Retail")
    partners = select(Application.partner_name).order_by(Application.id)
    with db.session() as session:
        connection = session.connection()
        connection.execute(Application.__table__.update().where(Application.id == second.id)
                           .values(partner_name="Bravo Renamed"))
        fetched = list(rows_ahead(connection, [select(Application.id).order_by(Application.id), partners,
                                               select(text("count(*)")).select_from(Application)]))
        assert [list(rows) for rows in fetched] == [[(first.id,), (second.id,)],
                                                    [("Acme Retail",), ("Bravo Renamed",)], [(2,)]]
        with closing(rows_ahead(connection, [partners] * 20)) as left_early:
            assert next(left_early)[0] == ("Acme Retail",)
        assert connection.execute(select(text("count(*)")).select_from(Application)).scalar_one() == 2
    with pytest.raises(Exception, match="no_such_table"), db.session() as session:
        failing = rows_ahead(session.connection(), [partners, text("SELECT * FROM no_such_table")])
        assert next(failing)[0] == ("Acme Retail",)
        next(failing)
