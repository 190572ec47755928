"""Backup and restore, as the README describes them, into an empty database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
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
    # A name of its own: other runs of the suite may share the server.
    name = f"competency_restore_{uuid.uuid4().hex}"
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    target_url = url.rsplit("/", 1)[0] + "/" + name
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={target_url}", str(dump)], check=True, timeout=120)
    restored = Database(target_url)
    try:
        assert snapshot(restored) == before
        assert walks.find(restored, "Acme").answer("T1.24").note == "kept"
    finally:
        restored.engine.dispose()
        source.engine.dispose()
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE {name}"], check=True)


def backup(database_url: str, path, **limits) -> subprocess.CompletedProcess:
    """``db backup PATH`` as a process; ``file_size`` limits the size of any file it writes
    (RLIMIT_FSIZE: past it writes fail with EFBIG, as on a full disk)."""
    import resource

    def limit() -> None:
        if "file_size" in limits:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size"], limits["file_size"]))

    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot", "db", "backup", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, preexec_fn=limit)


def test_a_backup_that_cannot_be_written_says_so_in_one_line_and_leaves_no_file(sqlite_db, tmp_path):
    fill(sqlite_db)
    run = backup(sqlite_db.url, tmp_path / "missing" / "backup.db")  # a folder that does not exist
    assert run.returncode == 1 and run.stdout == ""
    missing = tmp_path / "missing" / "backup.db"
    assert run.stderr == f"competency-bot: cannot write {missing}: No such file or directory\n"

    folder = tmp_path / "full"
    folder.mkdir()
    earlier = folder / "backup.db"
    earlier.write_bytes(b"yesterday's backup")
    size = os.path.getsize(sqlite_db.url.removeprefix("sqlite:///"))
    run = backup(sqlite_db.url, earlier, file_size=size // 2)  # the disk fills half-way through the copy
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"competency-bot: cannot write {earlier}: "), run.stderr
    assert [p.name for p in folder.iterdir()] == ["backup.db"] and earlier.read_bytes() == b"yesterday's backup"


def restore(database_url: str, path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot", "db", "restore", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_restore_puts_a_backup_back_and_refuses_an_empty_or_foreign_database(sqlite_db, tmp_path):
    import sqlite3

    fill(sqlite_db)
    copy = tmp_path / "backup.db"
    assert backup(sqlite_db.url, copy).returncode == 0
    before = snapshot(sqlite_db)
    walks.start(sqlite_db, ApplicationState(partner="Later", delivery_type="saas",
                                            checklist_id="aws-retail-competency", language="en"), "bob", NOW)

    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    no_applications = tmp_path / "fresh.db"
    from storage.db import upgrade

    fresh = Database(f"sqlite:///{no_applications}")
    upgrade(fresh)
    fresh.engine.dispose()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database at all, but long enough to have a header " * 10)
    for path, reason in ((empty, "is not a backup of competency-bot (an empty or foreign database)"),
                         (foreign, "is not a backup of competency-bot (an empty or foreign database)"),
                         (no_applications, "holds no application: restoring it would empty the bot"),
                         (text_file, "is not an SQLite database (file is not a database)"),
                         (tmp_path / "nowhere.db", None)):
        run = restore(sqlite_db.url, path)
        assert run.returncode == 1 and len(run.stderr.splitlines()) == 1, run.stderr
        assert run.stderr == f"competency-bot: {path} {reason}\n" if reason else f"no file {path}" in run.stderr
        assert walks.find(sqlite_db, "Later") is not None

    run = restore(sqlite_db.url, copy)
    assert run.returncode == 0 and run.stdout == f"restored from {copy}\n", run.stderr
    assert snapshot(sqlite_db) == before and walks.find(sqlite_db, "Later") is None
