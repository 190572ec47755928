"""Backup and restore, as the README describes them, into an empty database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text

from bot.reminders import run_pass
from flows.application import ApplicationState
from storage import walks
from storage.db import Database
from tests.support.cli import ROOT
from tests.support.db import POSTGRES_URL

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
TABLES = ("applications", "answers", "evidence", "history", "reminder_log", "case_studies")


class Counting:
    def prepare(self, db, now):
        pass

    def remind(self, notice):
        return True

    expired = remind

    def escalate(self, notice, channel):
        return True

    def was_sent(self, application, recipient, key, since):
        return None


def fill(db: Database) -> None:
    state = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas",
                                             checklist_id="aws-retail-competency", language="en"), "alice", NOW)
    for line in ("yes", "no", "goto T1.24", "yes", "note kept", "https://wiki.example.com/drill", "2026-01-10"):
        walks.step(db, state.id, line, "alice", NOW)
    run_pass(db, Counting(), datetime(2026, 11, 12, 9, 30, tzinfo=timezone.utc))  # the 60-day reminder key


def snapshot(db: Database) -> dict[str, list[tuple]]:
    with db.engine.connect() as connection:
        return {table: sorted(tuple(map(str, row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
                for table in TABLES}


def test_sqlite_backup_restores_everything(sqlite_db, tmp_path):
    fill(sqlite_db)
    before = snapshot(sqlite_db)
    assert before["reminder_log"] and before["evidence"]
    copy = tmp_path / "backup.db"
    env = {**os.environ, "DATABASE_URL": sqlite_db.url}
    run = subprocess.run([sys.executable, "-m", "bot", "db", "backup", str(copy)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    restored = Database(f"sqlite:///{copy}")
    assert snapshot(restored) == before
    state = walks.find(restored, "Acme")
    assert state.answer("T1.24").note == "kept" and state.answer("T1.24").evidence[0].evidence_date == date(2026, 1, 10)


@pytest.mark.skipif(not POSTGRES_URL or not shutil.which("pg_dump"), reason="needs TEST_DATABASE_URL and pg_dump")
def test_postgres_dump_restores_into_an_empty_database(tmp_path):
    from storage.db import upgrade
    from tests.support.db import reset_postgres

    source = Database(POSTGRES_URL)
    reset_postgres(source)
    upgrade(source)
    fill(source)
    before = snapshot(source)
    dump = tmp_path / "competency.dump"
    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", url], check=True, timeout=120)
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-q", "-c", "DROP DATABASE IF EXISTS competency_restore_test"], check=True)
    subprocess.run(["psql", admin, "-q", "-c", "CREATE DATABASE competency_restore_test"], check=True)
    target_url = url.rsplit("/", 1)[0] + "/competency_restore_test"
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={target_url}", str(dump)], check=True, timeout=120)
    restored = Database(target_url)
    try:
        assert snapshot(restored) == before
        assert walks.find(restored, "Acme").answer("T1.24").note == "kept"
    finally:
        restored.engine.dispose()
        source.engine.dispose()
        subprocess.run(["psql", admin, "-q", "-c", "DROP DATABASE competency_restore_test"], check=True)
