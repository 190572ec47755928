"""The test databases: SQLite always, PostgreSQL when ``TEST_DATABASE_URL`` is set."""

from __future__ import annotations

import os

from sqlalchemy import text

from storage.db import Database, upgrade

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def reset_postgres(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def make_database(backend: str, tmp_path) -> Database:
    if backend == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    else:
        database = Database(POSTGRES_URL)
        reset_postgres(database)
    upgrade(database)
    return database
