"""Shared fixtures: a fresh database per test, on SQLite always and on PostgreSQL
when ``TEST_DATABASE_URL`` is set (``.ci/run`` sets it)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from storage.db import Database
from tests.support.db import BACKENDS, POSTGRES_URL, make_database, reset_postgres


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
def slack_api(request):
    """A stand-in Web API; CTEAM's members are Alice and Bob. A test fails if the bot made
    a call Slack would refuse (a scope the manifest lacks, a channel the bot cannot reach,
    Block Kit over its limits…), unless it is marked ``slack_refusals``."""
    from tests.support.slack import FakeSlackAPI

    api = FakeSlackAPI()
    api.members["CTEAM"] = ["UALICE", "UBOB"]
    yield api
    api.close()
    if request.node.get_closest_marker("slack_refusals") is None:
        assert api.refused() == [], "Slack would have refused these calls"


@pytest.fixture
def server(db, slack_api):
    """The real web app on a loopback port, single-workspace, talking to the stand-in."""
    from bot.slack.server import create_web_app
    from tests.support.slack import BotServer, settings_for

    running = BotServer(create_web_app(settings_for(slack_api), db))
    yield running
    running.close()


@pytest.fixture
def started(server, slack_api, db) -> int:
    """An application started in CTEAM through Slack: its id."""
    from tests.support.slack import start_application

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
