"""Unit-of-work service for the walk: load, run one engine step, save, commit.

Both adapters (terminal and Slack) call these; neither touches the database itself.
"""

from __future__ import annotations

from datetime import datetime

from flows import walk
from flows.application import ApplicationState
from flows.checklist import get_checklist
from storage import applications
from storage.db import Database


def start(
    db: Database, state: ApplicationState, actor: str, now: datetime, team_id: str = "", channel_id: str = ""
) -> ApplicationState:
    with db.session() as session:
        return applications.create(session, state, actor, now, team_id, channel_id)


def find(db: Database, partner: str, team_id: str = "") -> ApplicationState | None:
    with db.session() as session:
        return applications.find_by_partner(session, partner, team_id)


def resume(db: Database, application_id: int, actor: str, now: datetime) -> walk.Outcome:
    return _run(db, application_id, actor, now, lambda checklist, state: walk.resume(checklist, state, actor, now))


def step(db: Database, application_id: int, line: str, actor: str, now: datetime) -> walk.Outcome:
    """Apply one line of input; the change is committed before this returns."""
    return _run(
        db, application_id, actor, now, lambda checklist, state: walk.handle(checklist, state, line, actor, now)
    )


def _run(db: Database, application_id: int, actor: str, now: datetime, engine_step) -> walk.Outcome:  # noqa: ANN001
    with db.session() as session:
        row = applications.load_row(session, application_id, lock=True)
        before = applications.to_state(row)
        outcome = engine_step(get_checklist(before.checklist_id), before)
        stored = applications.save(session, row, before, outcome.state, actor, now)
    return walk.Outcome(stored, outcome.messages, outcome.quit)
