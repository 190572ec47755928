"""Shared fixtures: a fresh database per test, on SQLite always and on PostgreSQL
when ``TEST_DATABASE_URL`` is set (``.ci/run`` sets it)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
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
    upgrade(database.engine)
    return database


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path) -> Database:
    database = make_database(request.param, tmp_path)
    yield database
    database.engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path) -> Database:
    database = make_database("sqlite", tmp_path)
    yield database
    database.engine.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def slack_api():
    """A stand-in Web API; CTEAM's members are Alice and Bob."""
    from tests.slack_support import FakeSlackAPI

    api = FakeSlackAPI()
    api.members["CTEAM"] = ["UALICE", "UBOB"]
    yield api
    api.close()


@pytest.fixture
def server(db, slack_api):
    """The real web app on a loopback port, single-workspace, talking to the stand-in."""
    from bot.slack.server import create_web_app
    from tests.slack_support import BotServer, settings_for

    running = BotServer(create_web_app(settings_for(slack_api), db))
    yield running
    running.close()


@pytest.fixture
def started(server, slack_api, db) -> int:
    """An application started in CTEAM through Slack: its id."""
    from tests.slack_support import start_application

    return start_application(server, slack_api, db)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A URL for a subprocess: an SQLite file, or the emptied PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.db'}"
    database = Database(POSTGRES_URL)
    reset_postgres(database)
    database.engine.dispose()
    return POSTGRES_URL
