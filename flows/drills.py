"""Drills and dated assessments planned ahead, not only reminded.

Pure rules: which items can be planned, what a plan typed or submitted must be, which
drills will have expired by the audit and whether they are planned, and when the bot
asks whether a planned drill happened. No SQL, no Slack, no clock: ``now`` is passed in.

* **Which items.** Every item whose evidence has a window (``max_age``: the
  incident-response drill T1.24, the AZ-outage and cross-region DR tests T2.9 and T2.13,
  the PCI assessment T1.25, the thought-leadership material P3.2, the key rotation T1.11)
  except the items derived from case studies, which are renewed by editing a case study.
* **When.** A day, and optionally a time of day, in the planner's time zone (their Slack
  zone, else the application's; the terminal's local zone). A day before today, or a
  time already past today, is refused.
* **The question afterwards.** At 09:00 in the plan's zone on the day after the planned
  day, the bot asks whether the drill happened, unless evidence dated on or after the
  planned day is already recorded. Only the newest plan of an item is asked about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flows.application import Answer, ApplicationState
from flows.checklist import Checklist, Item
from flows.evidence import read_date, zone
from flows.progress import stale_by_audit

# A Slack multi_users_select holds at most this many people; the terminal takes none.
MAX_ATTENDEES = 30
ASK_AT = time(9, 0)
_TIME = re.compile(r"^(\d{1,2})[:：](\d{2})$")

# Why a plan was refused (the template words each one).
MISSING_DATE, UNREADABLE_DATE, PAST_DATE, UNREADABLE_TIME, PAST_TIME, TOO_MANY_ATTENDEES, NOT_PLANNABLE = (
    "missing_date", "unreadable_date", "past_date", "unreadable_time", "past_time", "too_many_attendees",
    "not_plannable")
NO_ITEM = "no_item"  # the terminal's walk is past its last item: goto one first


@dataclass(frozen=True)
class DrillPlan:
    """When a drill (or an assessment) of one item will take place, and who attends."""

    item_id: str
    day: date
    at: time | None  # None: the whole day
    timezone: str  # the IANA zone ``day`` and ``at`` are in
    attendees: tuple[str, ...] = ()  # Slack user ids, or names
    planned_by: str = ""
    planned_at: datetime | None = None
    id: int | None = None  # set once stored

    def starts(self) -> datetime:
        """The drill's start as an aware moment (midnight for a whole-day plan)."""
        return datetime.combine(self.day, self.at or time(0), tzinfo=zone(self.timezone))

    def ask_at(self) -> datetime:
        """When the bot asks whether the drill happened: 09:00 the day after, plan time."""
        return datetime.combine(self.day + timedelta(days=1), ASK_AT, tzinfo=zone(self.timezone))

    def summary(self) -> str:
        """One line for the history: ``2027-01-12 10:00 Asia/Shanghai; UALICE, UBOB``."""
        when = f"{self.day.isoformat()} {self.at.strftime('%H:%M')}" if self.at else self.day.isoformat()
        people = f"; {', '.join(self.attendees)}" if self.attendees else ""
        return f"{when} {self.timezone}{people}"


@dataclass(frozen=True)
class PlanProblem:
    reason: str  # one of the reasons above
    text: str = ""


@dataclass(frozen=True)
class DrillLine:
    """A drill whose evidence will have expired by the audit: planned or not."""

    item: Item
    expires_on: date
    plan: DrillPlan | None


def plannable(item: Item | None) -> bool:
    return item is not None and item.max_age is not None and not item.derived_from


def parse_when(text: str, now: datetime, timezone: str) -> tuple[date, time | None] | PlanProblem:
    """``YYYY-MM-DD [HH:MM]`` typed (the date also as ``2027年1月12日`` or ``12 January
    2027``), judged against ``now`` in ``timezone``."""
    words = text.split()
    if not words:
        return PlanProblem(MISSING_DATE)
    at_text = words[-1] if len(words) > 1 and _TIME.match(words[-1]) else ""
    date_text = " ".join(words[:-1] if at_text else words)
    today = now.astimezone(zone(timezone)).date()
    day = read_date(date_text, today)
    if day is None:
        return PlanProblem(UNREADABLE_DATE, date_text)
    return judge_when(day.isoformat(), at_text, now, timezone)


def judge_when(day_text: str, at_text: str, now: datetime, timezone: str) -> tuple[date, time | None] | PlanProblem:
    """A day (ISO, as a Slack datepicker gives it) and an optional ``HH:MM`` (a timepicker's)."""
    if not day_text.strip():
        return PlanProblem(MISSING_DATE)
    try:
        day = date.fromisoformat(day_text.strip())
    except ValueError:
        return PlanProblem(UNREADABLE_DATE, day_text)
    at = None
    if at_text.strip():
        matched = _TIME.match(at_text.strip())
        if not matched or int(matched.group(1)) > 23 or int(matched.group(2)) > 59:
            return PlanProblem(UNREADABLE_TIME, at_text)
        at = time(int(matched.group(1)), int(matched.group(2)))
    local = now.astimezone(zone(timezone))
    if day < local.date():
        return PlanProblem(PAST_DATE, day.isoformat())
    if at is not None and day == local.date() and at <= local.time().replace(tzinfo=None):
        return PlanProblem(PAST_TIME, at.strftime("%H:%M"))
    return day, at


def plan_form_problems(item: Item | None, day_text: str, at_text: str, attendees: Iterable[str], now: datetime,
                       timezone: str) -> dict[str, str]:
    """What is wrong with a submitted plan form: field → reason."""
    if not plannable(item):
        return {"day": NOT_PLANNABLE}
    problems = {}
    judged = judge_when(day_text, at_text, now, timezone)
    if isinstance(judged, PlanProblem):
        problems["time" if judged.reason in (UNREADABLE_TIME, PAST_TIME) else "day"] = judged.reason
    if len(list(attendees)) > MAX_ATTENDEES:
        problems["attendees"] = TOO_MANY_ATTENDEES
    return problems


def _newest_evidence_date(answer: Answer) -> date | None:
    dated = [e.evidence_date for e in answer.evidence if e.evidence_date is not None]
    return max(dated) if dated else None


def still_open(plan: DrillPlan, answer: Answer) -> bool:
    """The plan is not yet answered by evidence dated on or after its day."""
    newest = _newest_evidence_date(answer)
    return newest is None or newest < plan.day


def needs_asking(plan: DrillPlan, answer: Answer, now: datetime) -> bool:
    """Whether to ask now if the planned drill happened (the caller keeps it to once)."""
    return now >= plan.ask_at() and still_open(plan, answer)


def drills_before_audit(checklist: Checklist, state: ApplicationState, today: date,
                        plans: Mapping[str, DrillPlan]) -> list[DrillLine]:
    """Plannable items valid today whose evidence expires before the target audit date
    (:func:`flows.progress.stale_by_audit`), planned or not (:func:`drill_lines`)."""
    return drill_lines(((e.item, e.expires_on) for e in stale_by_audit(checklist, state, today)), state, plans)


def drill_lines(lapsing: Iterable[tuple[Item, date]], state: ApplicationState,
                plans: Mapping[str, DrillPlan]) -> list[DrillLine]:
    """Of items whose evidence lapses before the audit (item, last valid day), the
    plannable ones, each with its newest plan that evidence has not yet answered (None:
    not planned). The digest hands in readiness's lapsing gaps, the same items."""
    lines = []
    for item, expires_on in lapsing:
        if not plannable(item):
            continue
        plan = plans.get(item.id)
        if plan is not None and not still_open(plan, state.answer(item.id)):
            plan = None
        lines.append(DrillLine(item, expires_on, plan))
    return lines
