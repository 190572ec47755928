"""What the benchmark scripts share."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from storage.db import Database, upgrade  # noqa: E402


def fresh_database(url: str) -> Database:
    """The database at ``url``, emptied (PostgreSQL: its public schema) and at the newest schema."""
    db = Database(url)
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(db.engine)
    return db
