"""The conversation engine: one line of input in, new state and what to say out.

Pure: no I/O, no clock (``now`` is passed in), no Slack, no SQL. The terminal chat
and the Slack bot are adapters over :func:`handle` and :func:`resume`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from flows.application import (
    EXPIRED,
    MAX_TEXT,
    MET,
    NOT_APPLICABLE,
    NOT_MET,
    REQUIRED,
    SKIPPED,
    TOO_LONG,
    Answer,
    ApplicationState,
    Evidence,
    Pending,
    effective_status,
)
from flows.checklist import Checklist, Item
from flows.commands import parse_command, parse_setting
from flows.drills import DrillPlan, drills_before_audit
from flows.evidence import DateProblem, expired_on_arrival, local_today, parse_evidence_date, zone
from flows.history import SIGN_OFF, Change, undo
from flows.progress import expiring_within, part_progress, stale_by_audit
from flows.settings import SettingProblem, parse_value
from flows.sign_off import (
    APPROVED,
    CHANGES_REQUESTED,
    blocks_verdict,
    part_sign_offs,
    refusal,
    settle,
    unreviewed,
    waiting,
)
from flows.sign_off import decide as sign_off_decide

# Commands that answer an item or give its evidence: a derived item takes none of them.
ANSWERING = ("met", "not_met", "not_applicable", "skip", "evidence", "date")
# Commands that need no current item: they work after the last one too.
ITEMLESS = ("status", "help", "quit", "goto", "back", "set", "history", "undo", "approve", "changes", "review")
# How many changes ``history`` shows without an item id (the newest).
HISTORY_LINES = 20


@dataclass(frozen=True)
class Message:
    """Something to say: a macro of ``templates/walk.j2`` and its arguments."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    state: ApplicationState
    messages: list[Message]
    quit: bool = False
    undone: tuple[Change, ...] = ()  # the history rows an ``undo`` reverted, for storage to mark


def status_message(checklist: Checklist, state: ApplicationState, today: date, current: Item | None,
                   plans: Mapping[str, DrillPlan]) -> Message:
    """Progress per part, what expires within 90 days, what will not last until the audit
    (and, for drills, whether they are planned: ``plans``, the newest per item), and with
    reviewers the sign-offs per part."""
    return Message("status", {
        "parts": part_progress(checklist, state, today),
        "sign_offs": part_sign_offs(checklist, state, today) if state.reviewers else (),
        "unreviewed": unreviewed(checklist, state, today),
        "sign_off_required": blocks_verdict(state),
        "expiring": expiring_within(checklist, state, today, 90),
        "stale": stale_by_audit(checklist, state, today),
        "drills": {line.item.id: line for line in drills_before_audit(checklist, state, today, plans)},
        "audit": state.target_audit_date,
        "current": current,
        "checklist": checklist,
    })


class Walk:
    """One step of the walk for one application, at one moment, by one person."""

    def __init__(self, checklist: Checklist, state: ApplicationState, user: str, now: datetime,
                 history: tuple[Change, ...] = (), plans: Mapping[str, DrillPlan] | None = None):
        self.checklist = checklist
        self.state = state
        self.user = user
        self.now = now
        self.today: date = local_today(now, state.timezone)
        self.items, self.places = self._applicable(state.delivery_type)
        self.messages: list[Message] = []
        self.history = history  # the application's history, given for history and undo
        self.initial = state  # as stored: a sign-off is voided by what changed since
        self.plans = plans or {}  # the newest drill plan per item, given for status
        self.undone: tuple[Change, ...] = ()

    # -- helpers -------------------------------------------------------------

    def say(self, name: str, **params) -> None:
        self.messages.append(Message(name, params))

    def outcome(self, stop: bool = False) -> Outcome:
        self.state, voided = settle(self.checklist, self.initial, self.state)
        for void in voided:
            self.say("sign_off_voided", item=void.item, review=void.review)
        return Outcome(self.state, self.messages, stop, self.undone)

    def _applicable(self, delivery_type: str) -> tuple[tuple[Item, ...], dict[str, int]]:
        return self.checklist.applicable_items(delivery_type), self.checklist.places(delivery_type)

    def applies(self, item: Item | None) -> bool:
        """Whether ``item`` is one of the walk's items: looked up by id, since a scan of
        the items compares each one before it field by field, on every step."""
        return item is not None and item.id in self.places

    def current(self) -> Item | None:
        item = self.checklist.item(self.state.cursor) if self.state.cursor else None
        # A cursor left on an item that no longer applies (delivery type changed) is no cursor.
        return item if self.applies(item) else None

    def position(self, item: Item) -> int:
        return self.places[item.id] + 1

    def show(self, item: Item) -> None:
        self.say(
            "item",
            item=item,
            answer=self.state.answer(item.id),
            position=self.position(item),
            total=len(self.items),
        )

    def move_to(self, item: Item | None) -> None:
        self.state = replace(self.state, cursor=item.id if item else None, pending=None)
        if item is None:
            self.state = replace(self.state, finished=True)
            self.finished()
        else:
            self.show(item)

    def finished(self) -> None:
        """Every typed-in item has an answer: say so, and what is still open and how to close it."""
        statuses = {item.id: effective_status(self.state.answer(item.id), self.today) for item in self.items}
        self.say(
            "finished",
            parts=part_progress(self.checklist, self.state, self.today),
            derived=[i for i in self.items if i.derived_from and statuses[i.id] not in (MET, NOT_APPLICABLE)],
            failing=[i for i in self.items if not i.derived_from and statuses[i.id] in (NOT_MET, EXPIRED)],
        )

    def next_item(self, after: Item | None) -> Item | None:
        """The next unanswered item after ``after``; then skipped ones from the top.
        Derived items are never asked: their data answers them."""
        start = self.places[after.id] + 1 if after else 0
        for item in self.items[start:]:
            if self.state.answer(item.id).status is None and not item.derived_from:
                return item
        for item in self.items:
            if self.state.answer(item.id).status in (None, SKIPPED) and item is not after and not item.derived_from:
                return item
        return None

    def move_on(self, after: Item) -> None:
        """Go to the next question after ``after``, showing the derived items passed on the way."""
        target = self.next_item(after)
        start = self.places[after.id] + 1
        end = self.places[target.id] if target is not None and self.places[target.id] >= start else len(self.items)
        for passed in self.items[start:end]:
            if passed.derived_from:
                self.say("derived", item=passed, answer=self.state.answer(passed.id))
        self.move_to(target)

    def dispatch(self, item: Item | None, name: str, argument: str) -> None:
        if item is not None and item.derived_from and name in ANSWERING:
            # Typing an answer must not overwrite what the data says; nothing is recorded.
            self.say("derived_refused", item=item)
            self.move_on(item)
            return
        getattr(self, f"on_{name}")(item, argument)

    def update_answer(self, item: Item, **changes) -> Answer:
        answer = replace(self.state.answer(item.id), **changes)
        self.state = self.state.with_answer(item.id, answer)
        return answer

    # -- the walk ------------------------------------------------------------

    def resume(self) -> Outcome:
        answered = sum(self.state.answer(i.id).status not in (None, SKIPPED) for i in self.items)
        self.say("welcome", partner=self.state.partner, answered=answered, total=len(self.items))
        item = self.current() or self.next_item(None)
        if item is None:
            self.finished()
            return self.outcome()
        self.state = replace(self.state, cursor=item.id)
        self.show(item)
        if self.state.pending and self.state.pending.item_id == item.id:
            self.ask(item, self.state.pending.awaiting)
        return self.outcome()

    def handle(self, line: str) -> Outcome:
        if len(line) > MAX_TEXT:
            self.say("too_long", limit=MAX_TEXT, length=len(line))
            return self.outcome()
        command = parse_command(line)
        if command.name == "text" and not command.argument:
            return self.outcome()
        item = self.current()
        if item is None and command.name not in ITEMLESS:
            item = self.next_item(None)
            if item is None:
                self.finished()
                return self.outcome()
            self.state = replace(self.state, cursor=item.id, finished=False)
        self.dispatch(item, command.name, command.argument)
        return self.outcome(stop=command.name == "quit")

    def ask(self, item: Item, awaiting: str) -> None:
        self.state = replace(self.state, pending=Pending(item.id, awaiting))
        self.say("ask_evidence" if awaiting == "evidence" else "ask_date", item=item)

    def record_status(self, item: Item, status: str) -> None:
        self.update_answer(item, status=status, answered_by=self.user, answered_at=self.now)

    def on_met(self, item: Item, _: str) -> None:
        answer = self.state.answer(item.id)
        dated = answer.expires_on is not None
        if dated and expired_on_arrival(item, answer.latest_evidence.evidence_date, self.today):
            # Existing evidence is out of its window: the answer is met but expired.
            self.record_status(item, EXPIRED)
            self.say("saved_expired", item=item, expires_on=answer.expires_on)
            self.move_on(item)
            return
        self.record_status(item, MET)
        self.say("saved", item=item, status=MET)
        if item.needs_evidence and not answer.evidence:
            self.ask(item, "evidence")
        elif item.max_age and not dated:
            self.ask(item, "date")
        else:
            self.move_on(item)

    def on_not_met(self, item: Item, _: str) -> None:
        self.record_status(item, NOT_MET)
        self.say("saved", item=item, status=NOT_MET)
        self.move_on(item)

    def on_not_applicable(self, item: Item, _: str) -> None:
        if not item.na_allowed:
            self.say("na_not_allowed", item=item)
            return
        self.record_status(item, NOT_APPLICABLE)
        self.say("saved", item=item, status=NOT_APPLICABLE)
        self.move_on(item)

    def on_skip(self, item: Item, _: str) -> None:
        pending = self.state.pending
        if pending and pending.item_id == item.id:
            # Skipping a follow-up question keeps the answer and moves on.
            self.say("followup_skipped", item=item, awaiting=pending.awaiting)
        elif self.state.answer(item.id).status is None:
            self.record_status(item, SKIPPED)
            self.say("saved", item=item, status=SKIPPED)
        self.move_on(item)

    def on_back(self, item: Item | None, _: str) -> None:
        if item is None:
            target = self.items[-1]
        else:
            index = self.places[item.id]
            if index == 0:
                self.say("at_start")
                return
            target = self.items[index - 1]
        self.state = replace(self.state, finished=False)
        self.move_to(target)

    def on_goto(self, item: Item | None, argument: str) -> None:
        if not argument:
            self.say("needs_argument", command="goto")
            return
        target = self.checklist.item(argument)
        if target is None:
            self.say("unknown_item", item_id=argument)
            return
        if not target.applies(self.state.delivery_type):
            self.say("item_not_applicable", item=target, delivery_type=self.state.delivery_type)
            return
        self.state = replace(self.state, finished=False)
        self.move_to(target)

    def on_status(self, item: Item | None, _: str) -> None:
        self.messages.append(status_message(self.checklist, self.state, self.today, item, self.plans))

    def on_plan(self, item: Item, _: str) -> None:
        """Planning writes an invite, which the adapter does (the terminal, or Slack's
        Plan it form); typed where no adapter takes it (Slack), it says where to plan."""
        self.say("plan_elsewhere", item=item)

    def on_help(self, item: Item | None, _: str) -> None:
        self.say("help")

    def on_quit(self, item: Item | None, _: str) -> None:
        self.say("bye")

    def on_note(self, item: Item, argument: str) -> None:
        if not argument:
            self.say("needs_argument", command="note")
            return
        self.update_answer(item, note=argument)
        self.say("note_saved", item=item)

    def on_evidence(self, item: Item, argument: str) -> None:
        if not argument:
            self.say("needs_argument", command="evidence")
            return
        answer = self.state.answer(item.id)
        evidence = Evidence(text=argument, added_by=self.user, added_at=self.now)
        self.update_answer(item, evidence=(*answer.evidence, evidence))
        self.say("evidence_saved", item=item)
        if item.max_age:
            self.ask(item, "date")
        elif self.state.pending and self.state.pending.item_id == item.id:
            self.move_on(item)

    def on_date(self, item: Item, argument: str) -> None:
        answer = self.state.answer(item.id)
        if not item.max_age:
            self.say("date_not_needed", item=item)
            return
        if not answer.evidence:
            self.say("date_needs_evidence", item=item)
            return
        parsed = parse_evidence_date(argument, self.today)
        if isinstance(parsed, DateProblem):
            self.say("bad_date", problem=parsed, today=self.today)
            self.ask(item, "date")
            return
        expires_on = item.expiry(parsed)
        latest = replace(answer.evidence[-1], evidence_date=parsed, expires_on=expires_on)
        answer = self.update_answer(item, evidence=(*answer.evidence[:-1], latest))
        self.settle_dated(item, answer.status, parsed, expires_on)
        was_asked = self.state.pending is not None and self.state.pending.item_id == item.id
        self.state = replace(self.state, pending=None)
        if was_asked:
            self.move_on(item)

    def settle_dated(self, item: Item, status: str | None, evidence_date: date, expires_on: date) -> None:
        """Newly dated evidence decides whether a met item counts or has expired."""
        if expired_on_arrival(item, evidence_date, self.today):
            if status == MET:
                self.record_status(item, EXPIRED)
            self.say("dated_expired", item=item, evidence_date=evidence_date, expires_on=expires_on)
        else:
            if status == EXPIRED:
                self.record_status(item, MET)
            self.say("dated", item=item, evidence_date=evidence_date, expires_on=expires_on)

    def on_set(self, item: Item | None, argument: str) -> None:
        setting, text = parse_setting(argument)
        if setting is None:
            self.say("set_usage", text=argument)
            return
        try:
            value = parse_value(setting, text, self.checklist, self.today)
        except SettingProblem as problem:
            self.say("setting_problem", problem=problem, checklist=self.checklist)
            return
        self.change(setting, value)

    def change(self, setting: str, value: object) -> None:
        """One of the application's settings (:data:`flows.settings.SETTINGS`) takes ``value``."""
        old = getattr(self.state, setting)
        if old == value:
            self.say("setting_unchanged", setting=setting, value=value, checklist=self.checklist)
            return
        self.state = replace(self.state, **{setting: value})
        self.items, self.places = self._applicable(self.state.delivery_type)
        self.say("setting_changed", setting=setting, old=old, value=value, checklist=self.checklist,
                 total=len(self.items))

    def on_history(self, item: Item | None, argument: str) -> None:
        wanted = self.checklist.item(argument) if argument else None
        if argument and wanted is None:
            self.say("unknown_item", item_id=argument)
            return
        shown = [c for c in self.history if c.field != "undo" and (wanted is None or c.item_id == wanted.id)]
        local = zone(self.state.timezone)
        self.say("history", item=wanted, changes=[replace(c, at=c.at.astimezone(local))
                                                  for c in shown[-HISTORY_LINES if wanted is None else 0:]],
                 total=len(shown), checklist=self.checklist)

    def on_undo(self, item: Item | None, _: str) -> None:
        result = undo(self.checklist, self.state, self.history, self.user)
        if result.problem:
            self.say("undo_refused", problem=result.problem, blocker=result.blocker)
            return
        self.state = result.state
        self.items = self.checklist.applicable_items(self.state.delivery_type)
        self.undone = result.reverted
        # A sign-off the step voided stays void: its row is marked undone with the step, not shown as put back.
        self.say("undone", changes=[c for c in result.reverted if c.field != SIGN_OFF], checklist=self.checklist)
        target = next((self.checklist.item(c.item_id) for c in result.reverted if c.item_id), None)
        if self.applies(target):
            self.state = replace(self.state, finished=False)
            self.move_to(target)

    def on_assign(self, item: Item, argument: str) -> None:
        if not argument:
            self.say("needs_argument", command="assign")
            return
        self.update_answer(item, assignee=argument)
        self.say("assigned", item=item, assignee=argument)

    def sign_off_target(self, item: Item | None, argument: str) -> tuple[Item | None, str]:
        """``approve T1.2`` / ``changes T1.2 REASON`` name their item; without one, the current item."""
        head, _, rest = argument.partition(" ")
        named = self.checklist.item(head) if head else None
        return (named, rest.strip()) if named is not None else (item, argument)

    def on_approve(self, item: Item | None, argument: str) -> None:
        self.decide(*self.sign_off_target(item, argument), APPROVED, "approve")

    def on_changes(self, item: Item | None, argument: str) -> None:
        self.decide(*self.sign_off_target(item, argument), CHANGES_REQUESTED, "changes")

    def decide(self, item: Item | None, reason: str, decision: str, command: str) -> None:
        if item is None or (decision == CHANGES_REQUESTED and not reason):
            self.say("needs_argument", command=command)
            return
        if not self.applies(item):
            self.say("unknown_item", item_id=item.id)
            return
        problem = refusal(self.state, item, self.user, self.today)
        if problem is not None:
            self.say("sign_off_refused", item=item, problem=problem)
            return
        self.state = sign_off_decide(self.state, item, decision, self.user, self.now, reason)
        answer = self.state.answer(item.id)
        self.say("signed_off", item=item, review=answer.review, tell=answer.assignee or answer.answered_by)

    def on_review(self, item: Item | None, _: str) -> None:
        self.say("review_list", items=[(waiting_item, self.state.answer(waiting_item.id))
                                       for waiting_item in waiting(self.checklist, self.state, self.today)],
                 reviewers=self.state.reviewers)

    # -- entry points for adapters that address an item directly (Slack buttons, modals) --

    def on_item(self, item_id: str, line: str) -> Outcome:
        """Apply ``line`` to one item; follow-up questions become a hint, not a prompt."""
        item = self.checklist.item(item_id)
        if not self.applies(item):
            self.say("unknown_item", item_id=item_id)
            return self.outcome()
        before = self.state
        self.state = replace(self.state, cursor=item.id, pending=None, finished=False)
        command = parse_command(line)
        if command.name == "history" and not command.argument:
            # Words said to one item (its thread) are about it: its history, not the latest changes.
            command = replace(command, argument=item.id)
        self.dispatch(item, command.name, command.argument)
        pending = self.state.pending
        if pending is not None:
            # Evidence arrives through its own form in these adapters, so don't wait for it.
            self.messages = [m for m in self.messages if m.name not in ("ask_evidence", "ask_date")]
            self.say("evidence_wanted", item=item, awaiting=pending.awaiting)
            self.move_on(item)
        begun = before.cursor is not None or before.finished
        if begun and before.cursor != item.id:
            # An item other than the current one (an older message, a thread, a DM): the
            # answer changes that item only; the walk stays where it was.
            self.state = replace(self.state, cursor=before.cursor, pending=before.pending, finished=before.finished)
            self.messages = [m for m in self.messages if m.name not in ("item", "finished")]
        return self.outcome()

    def record_evidence(self, item_id: str, text: str, date_text: str, note: str) -> Outcome | DateProblem:
        """Evidence from a form: link or text, the evidence's date where the item ages, a note."""
        item = self.checklist.item(item_id)
        if item.derived_from:
            self.say("derived_refused", item=item)
            return self.outcome()
        parsed = parse_evidence_date(date_text, self.today) if date_text.strip() else None
        if isinstance(parsed, DateProblem):
            return parsed
        answer = self.state.answer(item.id)
        expires_on = item.expiry(parsed) if parsed else None
        evidence = Evidence(text=text, evidence_date=parsed, expires_on=expires_on, added_by=self.user,
                            added_at=self.now)
        self.update_answer(item, evidence=(*answer.evidence, evidence), note=note or answer.note)
        self.say("evidence_saved", item=item)
        if parsed is not None:
            self.settle_dated(item, answer.status, parsed, expires_on)
        return self.outcome()

    def assign(self, item_id: str, assignee: str) -> Outcome:
        item = self.checklist.item(item_id)
        if not self.applies(item):
            self.say("unknown_item", item_id=item_id)
        else:
            self.on_assign(item, assignee)
        return self.outcome()

    def on_text(self, item: Item, argument: str) -> None:
        pending = self.state.pending
        if pending and pending.item_id == item.id:
            if pending.awaiting == "evidence":
                self.on_evidence(item, argument)
            else:
                self.on_date(item, argument)
            return
        self.say("hint", text=argument, item=item)


def evidence_form_problems(item: Item, link: str, date_text: str, note: str) -> dict[str, str]:
    """What is wrong with an evidence form: field → problem code. The date's own value is
    judged by :meth:`Walk.record_evidence` (unreadable, future)."""
    problems = {}
    if not link.strip():
        problems["link"] = REQUIRED
    elif len(link) > MAX_TEXT:
        problems["link"] = TOO_LONG
    if len(note) > MAX_TEXT:
        problems["note"] = TOO_LONG
    if item.max_age and not date_text.strip():
        problems["evidence_date"] = "date_required"
    return problems


def on_item(
    checklist: Checklist, state: ApplicationState, item_id: str, line: str, user: str, now: datetime,
    history: tuple[Change, ...] = (), plans: Mapping[str, DrillPlan] | None = None,
) -> Outcome:
    """``line`` said to one item; ``history`` and ``plans`` as for :func:`handle`."""
    return Walk(checklist, state, user, now, history, plans).on_item(item_id, line)


def record_evidence(
    checklist: Checklist, state: ApplicationState, item_id: str, text: str, date_text: str, note: str,
    user: str, now: datetime,
) -> Outcome | DateProblem:
    return Walk(checklist, state, user, now).record_evidence(item_id, text, date_text, note)


def assign(
    checklist: Checklist, state: ApplicationState, item_id: str, assignee: str, user: str, now: datetime
) -> Outcome:
    return Walk(checklist, state, user, now).assign(item_id, assignee)


def resume(checklist: Checklist, state: ApplicationState, user: str, now: datetime) -> Outcome:
    return Walk(checklist, state, user, now).resume()


def handle(
    checklist: Checklist, state: ApplicationState, line: str, user: str, now: datetime,
    history: tuple[Change, ...] = (), plans: Mapping[str, DrillPlan] | None = None,
) -> Outcome:
    """One typed line; ``history`` (the application's, oldest first) is read by ``history``
    and ``undo`` (:func:`needs_history`), ``plans`` by ``status`` (:func:`needs_plans`)."""
    return Walk(checklist, state, user, now, history, plans).handle(line)


def needs_history(line: str) -> bool:
    """Whether ``line`` reads the application's history, so the adapter loads it."""
    return parse_command(line).name in ("history", "undo")


def needs_plans(line: str) -> bool:
    """Whether ``line`` reads the application's drill plans (``status``)."""
    return parse_command(line).name == "status"


def change(checklist: Checklist, state: ApplicationState, setting: str, value: object, user: str,
           now: datetime) -> Outcome:
    """A setting changed from outside the walk (the terminal's start-up offer)."""
    walk = Walk(checklist, state, user, now)
    walk.change(setting, value)
    return walk.outcome()
