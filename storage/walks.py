"""Unit-of-work service for the walk: load, run one engine step, save, commit.

Both adapters (terminal and Slack) call these; neither touches the database itself.
Each function is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from flows import walk
from flows.application import ApplicationState
from flows.case_studies import CaseStudy, SolutionDocuments
from flows.checklist import Checklist, get_checklist
from flows.evidence import DateProblem
from flows.releases import UpgradePlan, upgrade_plan
from storage import applications, drills
from storage import slack as slack_store
from storage.case_studies import _case_studies_by_application, _to_documents
from storage.db import Database
from storage.errors import MembershipNotConfirmed


def start(
    db: Database, state: ApplicationState, actor: str, now: datetime, team_id: str = "", channel_id: str = ""
) -> ApplicationState:
    """Store a new application; raises :class:`~storage.errors.PartnerExists` when the
    workspace already has one for this partner."""
    with db.session() as session:
        return applications._create(session, state, actor, now, team_id, channel_id)


def find(db: Database, partner: str, team_id: str | None = None) -> ApplicationState | None:
    with db.session() as session:
        return applications._find_by_partner(session, partner, team_id)


def resume(db: Database, application_id: int, actor: str, now: datetime) -> walk.Outcome:
    return _run(db, application_id, actor, now, lambda checklist, state: walk.resume(checklist, state, actor, now))


def step(db: Database, application_id: int, line: str, actor: str, now: datetime) -> walk.Outcome:
    """Apply one line of input; the change is committed before this returns."""
    return _typed(db, application_id, line, actor, now,
                  lambda checklist, state, history, plans: walk.handle(checklist, state, line, actor, now, history,
                                                                       plans))


def change(db: Database, application_id: int, setting: str, value: object, actor: str,
           now: datetime) -> walk.Outcome:
    """One setting of the application (delivery type, categories, language, audit date)."""
    return _run(db, application_id, actor, now,
                lambda checklist, state: walk.change(checklist, state, setting, value, actor, now))


def on_item(db: Database, application_id: int, item_id: str, line: str, actor: str, now: datetime) -> walk.Outcome:
    """One item addressed directly (a thread reply), with the same words as :func:`step`."""
    return _typed(db, application_id, line, actor, now,
                  lambda checklist, state, history, plans: walk.on_item(checklist, state, item_id, line, actor, now,
                                                                        history, plans))


@dataclass(frozen=True)
class Listed:
    """One application as ``competency-bot list`` shows it."""

    state: ApplicationState
    team_id: str  # "" for an application started in the terminal
    case_studies: tuple[CaseStudy, ...]
    documents: SolutionDocuments


def every_application(db: Database) -> list[Listed]:
    """Every application with its case studies and documents, oldest first (two queries)."""
    with db.session() as session:
        found = applications._read_states(session, applications._EVERY, {})
        cases = _case_studies_by_application(session, [state.id for state, _ in found])
        return [Listed(state, row.team_id, tuple(cases[state.id]), _to_documents(row)) for state, row in found]


def answer_from_slack(db: Database, member: slack_store.Membership, item_id: str, line: str, delivery_key: str,
                      now: datetime) -> walk.Outcome | None:
    """A button press by ``member``'s user, applied to its state, as the membership check
    read it (:func:`storage.slack.membership`) or as this process knew it
    (:func:`storage.slack.presumed_membership`). None when the delivery was already
    applied; raises :class:`MembershipNotConfirmed` when the user of a presumed membership
    may not change the application, having written nothing.

    This is the path every answer takes. On PostgreSQL one statement claims the delivery
    and writes the step, unless the application changed since it was read (or, presumed,
    the user may not change it). A presumed state that changed is read again and the
    step written once more the same way; when that fails too, and on SQLite, the
    delivery is claimed and the step applied to the state read again under the
    application's lock, in one transaction."""
    before, version, actor = member.state, member.version, member.user_id
    key = slack_store._stored_key(delivery_key)
    outcome = walk.on_item(get_checklist(*before.release_key), before, item_id, line, actor, now)
    presumed = (None if member.presumed_at is None
                else applications.Presumed(member.presumed_at, member.team_id, member.user_id))
    written, stored = applications._write_unless_changed(db, before, version, outcome.state, actor, now, key,
                                                         presumed)
    if written == applications.MAY_NOT_CHANGE:
        raise MembershipNotConfirmed(before.id)
    if written == applications.CHANGED_MEANWHILE and presumed is not None:
        # Changed by another process (the other web worker, say); the statement that did
        # not write found the user a member. The state is read and the step written again.
        before, version = applications.read_known(db, before.id)
        outcome = walk.on_item(get_checklist(*before.release_key), before, item_id, line, actor, now)
        written, stored = applications._write_unless_changed(db, before, version, outcome.state, actor, now, key)
    if written == applications.ALREADY_APPLIED:
        return None
    if written == applications.WRITTEN:
        db.known_states.remember(stored, version + 1, now, member.channel_id)  # the next press reads no answers
        return outcome
    with db.session() as session:
        if not slack_store._claim_delivery(session, key, now):
            return None
        before, row = applications._read_one(session, before.id, lock=True)
        outcome = walk.on_item(get_checklist(*before.release_key), before, item_id, line, actor, now)
        stored = applications._save(session, before.id, before, outcome.state, actor, now)
    db.known_states.remember(stored, row.version + 1, now, row.channel_id)
    return walk.Outcome(stored, outcome.messages, outcome.quit)


def set_lead_times(db: Database, application_id: int, days: tuple[int, ...] | None, actor: str,
                   now: datetime) -> ApplicationState:
    """The application's own reminder lead days (None: the checklist's), with history."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        return applications._save(session, application_id, before, replace(before, lead_times=days), actor, now)


def record_evidence(
    db: Database, application_id: int, item_id: str, text: str, date_text: str, note: str, actor: str, now: datetime
) -> walk.Outcome | DateProblem:
    """Store evidence from a form; a refused date stores nothing and is returned."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        result = walk.record_evidence(
            get_checklist(*before.release_key), before, item_id, text, date_text, note, actor, now
        )
        if isinstance(result, DateProblem):
            return result
        stored = applications._save(session, application_id, before, result.state, actor, now)
    return walk.Outcome(stored, result.messages)


def assign(db: Database, application_id: int, item_id: str, assignee: str, actor: str, now: datetime) -> walk.Outcome:
    return _run(
        db, application_id, actor, now,
        lambda checklist, state: walk.assign(checklist, state, item_id, assignee, actor, now),
    )


def in_channel(db: Database, team_id: str, channel_id: str) -> list[ApplicationState]:
    with db.session() as session:
        return applications._find_by_channel(session, team_id, channel_id)


def plan_upgrade(db: Database, application_id: int, new: Checklist) -> UpgradePlan:
    """What moving the application to ``new`` would do; nothing is changed."""
    state = load(db, application_id)
    return upgrade_plan(get_checklist(*state.release_key), new, state)


def upgrade(db: Database, application_id: int, new: Checklist, actor: str, now: datetime) -> UpgradePlan:
    """Move the application to the release ``new`` (one transaction, one history step):
    the release change, every reopened answer, every archived one. A plan with a
    ``problem`` changes nothing."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        old = get_checklist(*before.release_key)
        plan = upgrade_plan(old, new, before)
        if plan.problem is None:
            applications._save(session, application_id, before, plan.after, actor, now)
            applications._archive(session, application_id,
                                  {item_id: before.answer(item_id).status for item_id in plan.archived},
                                  old.release, actor, now)
    return plan


def load(db: Database, application_id: int) -> ApplicationState:
    with db.session() as session:
        return applications._load_state(session, application_id)


def _typed(db: Database, application_id: int, line: str, actor: str, now: datetime, engine_step) -> walk.Outcome:
    """A typed line: ``history`` and ``undo`` read the application's history in the same
    transaction; an undo's reverted rows are marked so that they are never undone twice."""
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        history = applications._history(session, application_id) if walk.needs_history(line) else ()
        plans = drills._newest(session, [application_id]).get(application_id, {}) if walk.needs_plans(line) else {}
        outcome = engine_step(get_checklist(*before.release_key), before, history, plans)
        stored = applications._save(session, application_id, before, outcome.state, actor, now)
        if outcome.undone:
            applications._mark_undone(session, application_id, outcome.undone, actor, now)
    return walk.Outcome(stored, outcome.messages, outcome.quit)


def _run(db: Database, application_id: int, actor: str, now: datetime, engine_step) -> walk.Outcome:
    with db.session() as session:
        before = applications._load_state(session, application_id, lock=True)
        outcome = engine_step(get_checklist(*before.release_key), before)
        stored = applications._save(session, application_id, before, outcome.state, actor, now)
    return walk.Outcome(stored, outcome.messages, outcome.quit)
