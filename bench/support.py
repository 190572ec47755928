"""What the benchmark scripts share."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from storage.db import Database, upgrade


def fresh_database(url: str) -> Database:
    """The database at ``url``, emptied (PostgreSQL: its public schema) and at the newest schema."""
    db = Database(url)
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(db)
    return db


def machine_speed_ms() -> float:
    """Milliseconds for a fixed pure-Python loop, best of five: printed with every result,
    so that figures from a busy or slower machine can be told apart."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n
        best = min(best, time.perf_counter() - started)
    return best * 1000


def header(title: str) -> str:
    return (f"{title}: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
            f"machine speed {machine_speed_ms():.0f} ms (a fixed Python loop; lower is faster)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
