"""Drill plans: stored with a history row, read back newest per item.

The question "did the drill happen?" is sent once per plan through the reminder log
(:mod:`storage.reminders`): its key is ``d<plan id>:0``, claimed before sending like
every reminder's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session

from flows.application import ApplicationState
from flows.drills import DrillPlan
from storage import applications, models
from storage.db import Database

DRILL = "d"  # the reminder-log kind of the "did it happen?" question
FIELD = "drill_plan"  # the history field of a plan


def _to_plan(row: models.DrillPlanRow | Row) -> DrillPlan:
    return DrillPlan(item_id=row.item_id, day=row.day, at=time.fromisoformat(row.at) if row.at else None,
                     timezone=row.timezone, attendees=tuple(row.attendees or ()), planned_by=row.planned_by,
                     planned_at=row.planned_at, id=row.id)


def save_plan(db: Database, application_id: int, plan: DrillPlan, actor: str, now: datetime) -> DrillPlan:
    """Store a plan (the item's newest from now on) and its history row, in one transaction."""
    with db.session() as session:
        previous = _newest(session, [application_id]).get(application_id, {}).get(plan.item_id)
        row = models.DrillPlanRow(application_id=application_id, item_id=plan.item_id, day=plan.day,
                                  at=plan.at.strftime("%H:%M") if plan.at else "", timezone=plan.timezone,
                                  attendees=list(plan.attendees), planned_by=actor, planned_at=now)
        session.add(row)
        session.add(models.HistoryEntry(application_id=application_id, item_id=plan.item_id, field=FIELD,
                                        old_value=previous.summary() if previous else None,
                                        new_value=_to_plan(row).summary(), actor=actor, at=now))
        session.flush()
        return _to_plan(row)


def plans(db: Database, application_id: int) -> dict[str, DrillPlan]:
    """The newest plan of each of the application's items."""
    with db.session() as session:
        return _newest(session, [application_id]).get(application_id, {})


def _newest(session: Session, application_ids: list[int] | None) -> dict[int, dict[str, DrillPlan]]:
    """Newest plan per (application, item), for some applications (None: all)."""
    return _plans_from(session.connection().execute(_newest_query(application_ids)).all())


def _newest_query(application_ids: list[int] | None, *where: ColumnElement[bool]) -> Select:
    """The rows of the newest plans per (application, item), for some applications (None:
    all), or for the applications ``where`` picks (conditions on the applications table)."""
    newest = select(func.max(models.DrillPlanRow.id)).group_by(models.DrillPlanRow.application_id,
                                                               models.DrillPlanRow.item_id)
    if application_ids is not None:
        newest = newest.where(models.DrillPlanRow.application_id.in_(application_ids))
    if where:
        newest = newest.join(models.Application).where(*where)
    table = models.DrillPlanRow.__table__
    return select(table).where(table.c.id.in_(newest.scalar_subquery()))


def _plans_from(rows: Iterable[Row]) -> dict[int, dict[str, DrillPlan]]:
    """:func:`_newest_query`'s rows by application, then item."""
    found: dict[int, dict[str, DrillPlan]] = {}
    for row in rows:
        found.setdefault(row.application_id, {})[row.item_id] = _to_plan(row)
    return found


def plans_of(db: Database, application_ids: list[int]) -> dict[int, dict[str, DrillPlan]]:
    """The newest plan of each item, per application, in one query."""
    if not application_ids:
        return {}
    with db.session() as session:
        return _newest(session, application_ids)


@dataclass(frozen=True)
class PlannedDrill:
    """A newest plan with its application, for the pass that asks whether it happened."""

    state: ApplicationState
    team_id: str
    channel_id: str  # "" for an application of the terminal only
    plan: DrillPlan


def newest_plans(db: Database) -> list[PlannedDrill]:
    """Every application's newest plan per item, with the application's state (whose
    answers say whether evidence answered the plan) and its Slack channel."""
    with db.session() as session:
        found = _newest(session, None)
        places = {row.id: (row.team_id, row.channel_id) for row in session.execute(
            select(models.Application.id, models.Application.team_id, models.Application.channel_id)
            .where(models.Application.id.in_(list(found))))} if found else {}
        return [PlannedDrill(applications._load_state(session, application_id), *places[application_id], plan)
                for application_id, by_item in found.items() for plan in by_item.values()]
