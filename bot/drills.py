"""Drill plans for both adapters: the invite's bytes, and the pass that asks, once the
planned day is over, whether the drill happened.

The question goes to the item's thread in the application's channel (or the channel,
when the item has no message there). It is sent once per plan: its key ``d<plan id>:0``
is claimed in the reminder log before sending, as every reminder's is (see
:mod:`bot.reminders`), so a second clock process or a rerun never asks twice, and a
send that failed is claimed again by the next pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.render import render
from flows.application import ApplicationState
from flows.checklist import Item, get_checklist
from flows.drills import DrillPlan, needs_asking
from flows.invite import drill_invite
from flows.reminders import ReminderKey
from storage import drills as store
from storage import reminders as reminder_log
from storage.db import Database

ACTOR = "drills"


def invite(state: ApplicationState, item: Item, plan: DrillPlan, attendee_names: list[str], now: datetime) -> bytes:
    """The plan's ``.ics``: the requirement and the attendees' names as its description."""
    description = render("drills.j2", "invite_description", state.language, item=item, attendees=attendee_names)
    return drill_invite(plan, item, state.language, description, f"drill-{state.id}-{plan.id}@competency-bot", now)


@dataclass(frozen=True)
class DrillQuestion:
    """Ask in an application's channel whether a planned drill happened."""

    state: ApplicationState
    team_id: str
    channel_id: str
    item: Item
    plan: DrillPlan

    @property
    def key(self) -> str:
        assert self.plan.id is not None
        return reminder_log.key_text(store.DRILL, ReminderKey(self.plan.id, 0))


class Asker(Protocol):
    def ask_drill(self, db: Database, question: DrillQuestion) -> bool: ...


def due_questions(db: Database, now: datetime) -> list[DrillQuestion]:
    """The newest plans of Slack applications whose day is over, that no evidence dated
    on or after it answers, and that were not asked about yet."""
    asked = reminder_log.recorded_keys(db, store.DRILL)
    found = []
    for planned in store.newest_plans(db):
        state, plan = planned.state, planned.plan
        if not planned.channel_id or ReminderKey(plan.id, 0) in asked:
            continue  # a terminal application has nowhere to be asked; or asked already
        if needs_asking(plan, state.answer(plan.item_id), now):
            item = get_checklist(*state.release_key).item(plan.item_id)
            if item is not None:
                found.append(DrillQuestion(state, planned.team_id, planned.channel_id, item, plan))
    return found


def ask_pass(db: Database, asker: Asker, now: datetime) -> tuple[int, int]:
    """Ask every due question once: (asked, failed)."""
    asked = failed = 0
    for question in due_questions(db, now):
        if not reminder_log.claim(db, question.key, question.state.id, question.item.id, "", now):
            continue  # another process took it
        ok = asker.ask_drill(db, question)
        reminder_log.finish(db, reminder_log.Outcome(question.key, ok, "" if ok else "send failed"), now)
        asked += ok
        failed += not ok
    return asked, failed
