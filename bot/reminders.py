"""One reminder pass: what is due, claimed once, sent through a notifier.

Used by ``competency-bot remind`` and by the ``clock`` process. Nothing that matters is
kept in memory: what is due is computed from the database at every pass, so a restart
or a missed hour catches up (within the grace of :mod:`flows.reminders`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from flows.case_studies import window_item
from flows.checklist import Checklist, Item, get_checklist
from flows.reminders import (
    DEFAULT_GRACE,
    Escalation,
    ExpiryFlip,
    Reminder,
    ReminderKey,
    TrackedEvidence,
    due_actions,
    next_checks,
)
from storage import case_studies as case_study_store
from storage import reminders as store
from storage.db import Database
from storage.reminders import ApplicationTarget

ACTOR = "reminders"


@dataclass(frozen=True)
class Notice:
    """What a notifier needs to tell people about one action."""

    application: ApplicationTarget
    checklist: Checklist
    item: Item
    evidence_text: str  # the evidence, or the case study's customer
    evidence_date: date | None  # the evidence's date, or the production date
    action: Reminder | ExpiryFlip | Escalation
    kind: str = store.EVIDENCE
    valid_case_studies: int | None = None
    voided_sign_off_by: str | None = None  # an expiry flip voided this reviewer's approval

    @property
    def key(self) -> str:
        return store.key_text(self.kind, self.action.key)


class Notifier(Protocol):
    def prepare(self, db: Database, now: datetime) -> None: ...
    def was_sent(self, application: ApplicationTarget, recipient: str, key: str, since: datetime) -> bool | None: ...
    def remind(self, notice: Notice) -> bool: ...
    def expired(self, notice: Notice) -> bool: ...
    def escalate(self, notice: Notice, channel: str) -> bool: ...


@dataclass
class PassReport:
    sent: int = 0
    failed: int = 0
    flipped: int = 0
    escalated: int = 0
    already_taken: int = 0
    due: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class Observed:
    """What a pass reads of the applications in its scope: the tracked rows and recorded keys."""

    evidence: dict[tuple[str, str], list[TrackedEvidence]]  # by (checklist id, release)
    case_studies: dict[tuple[str, str], list[TrackedEvidence]]  # likewise, expiry set by the window item
    recorded: set[ReminderKey]
    recorded_case_studies: set[ReminderKey]

    def judged(self, judge, now: datetime, grace: timedelta) -> list[tuple[Checklist, str, object]]:
        """``judge`` (:func:`due_actions` or :func:`next_checks`) over every row, per
        checklist and kind (evidence or case study)."""
        found = []
        for release_key, rows in self.evidence.items():
            checklist = get_checklist(*release_key)
            items = {item.id: item for item in checklist.items}
            # Evidence of an item the release no longer has (archived by an upgrade) ages unseen.
            rows = [row for row in rows if row.item_id in items]
            found.append((checklist, store.EVIDENCE,
                          judge(rows, items, now, self.recorded, grace, checklist.reminder_lead_days)))
        for release_key, rows in self.case_studies.items():
            checklist = get_checklist(*release_key)
            items = {row.item_id: window_item(checklist) for row in rows}
            found.append((checklist, store.CASE_STUDY, judge(rows, items, now, self.recorded_case_studies, grace,
                                                             checklist.reminder_lead_days)))
        return found

    def updated(self, newer: Observed, application_ids: frozenset[int]) -> Observed:
        """These observations with those of ``application_ids`` replaced by ``newer``'s.
        Recorded keys only grow within a pass (a failed send was not recorded before it
        either), so they are joined."""
        def merged(old: dict[tuple[str, str], list[TrackedEvidence]],
                   new: dict[tuple[str, str], list[TrackedEvidence]]):
            rows = {release_key: [row for row in found if row.application_id not in application_ids]
                    for release_key, found in old.items()}
            for release_key, found in new.items():
                rows.setdefault(release_key, []).extend(found)
            return rows

        return Observed(merged(self.evidence, newer.evidence), merged(self.case_studies, newer.case_studies),
                        self.recorded | newer.recorded, self.recorded_case_studies | newer.recorded_case_studies)


def observe(db: Database, scope: store.Scope) -> Observed:
    """Read the tracked evidence, case studies and recorded keys of ``scope``'s applications."""
    if scope.application_ids == frozenset():
        return Observed({}, {}, set(), set())  # the usual pass: nothing due, nothing changed
    case_studies: dict[str, list[TrackedEvidence]] = {}
    for release_key, row in store.tracked_case_studies(db, scope):
        window = window_item(get_checklist(*release_key))
        # Case studies age like evidence, each against the window of the item that sets it.
        case_studies.setdefault(release_key, []).append(replace(row, expires_on=window.expiry(row.evidence_date)))
    return Observed(store.tracked(db, scope), case_studies, store.recorded_keys(db, store.EVIDENCE, scope),
                    store.recorded_keys(db, store.CASE_STUDY, scope))


def due_notices(db: Database, now: datetime, grace: timedelta = DEFAULT_GRACE,
                observed: Observed | None = None) -> list[Notice]:
    """What is due at ``now`` among the applications a pass looks at (see
    :func:`storage.reminders.pass_scope`), or among ``observed``."""
    if observed is None:
        observed = observe(db, store.pass_scope(db, now))
    evidence_actions, case_actions = [], []
    for checklist, kind, actions in observed.judged(due_actions, now, grace):
        (case_actions if kind == store.CASE_STUDY else evidence_actions).extend(
            (checklist, action) for action in actions)
    applications = store.application_targets(
        db, {action.application_id for _, action in evidence_actions + case_actions})
    texts = store.evidence_text(db, {action.evidence_id for _, action in evidence_actions})
    customers = store.case_study_text(db, {action.evidence_id for _, action in case_actions})
    notices = [
        Notice(applications[action.application_id], checklist, checklist.item(action.item_id),
               *texts.get(action.evidence_id, ("", None)), action)
        for checklist, action in evidence_actions
    ]
    for checklist, action in case_actions:
        notices.append(Notice(applications[action.application_id], checklist, window_item(checklist),
                              *customers.get(action.evidence_id, ("", None)), action, store.CASE_STUDY,
                              getattr(action, "valid_case_studies", None)))
    return notices


def reschedule(db: Database, scope: store.Scope, observed: Observed, now: datetime, grace: timedelta) -> None:
    """Store when each application of ``scope`` next needs a pass (from ``observed``, read
    after this pass's sends were recorded)."""
    checks: dict[int, datetime] = {}
    for _, _, found in observed.judged(next_checks, now, grace):
        for application_id, moment in found.items():
            if application_id not in checks or moment < checks[application_id]:
                checks[application_id] = moment
    store.save_checks(db, scope, checks)


def run_pass(db: Database, notifier: Notifier, now: datetime, *, dry_run: bool = False,
             pdm_default: str = "", grace: timedelta = DEFAULT_GRACE) -> PassReport:
    report = PassReport()
    if not dry_run:
        notifier.prepare(db, now)
        _settle_interrupted_sends(db, notifier, now)
    scope = store.pass_scope(db, now)
    observed = observe(db, scope)
    report.due = due_notices(db, now, grace, observed)
    if dry_run:
        return report
    _retry_failed_expiry_notices(db, notifier, now, report)
    previous: store.Outcome | None = None  # recorded with the next claim, in its transaction
    try:
        for notice in report.due:
            action = notice.action
            skipped = ([store.key_text(notice.kind, k) for k in action.skipped_keys]
                       if isinstance(action, Reminder | ExpiryFlip) else [])
            claimed = store.claim(db, notice.key, action.application_id, notice.item.id,
                                  getattr(action, "recipient", ""), now, skipped=skipped,
                                  skip_reason=getattr(action, "skip_reason", ""), previous=previous)
            previous = None
            if not claimed:
                report.already_taken += 1
                continue
            ok = _carry_out(db, notifier, notice, now, pdm_default, report)
            previous = _outcome(notice.key, ok)
            report.failed += not ok
    finally:
        if previous is not None:
            store.finish(db, previous, now)
    # What was sent, flipped or claimed changed what is recorded for the applications that
    # had something due: those are read again before judging when each application next
    # needs a pass.
    acted = frozenset(notice.action.application_id for notice in report.due)
    if acted:
        observed = observed.updated(observe(db, replace(scope, application_ids=acted)), acted)
    reschedule(db, scope, observed, now, grace)
    return report


def _outcome(key: str, ok: bool) -> store.Outcome:
    return store.Outcome(key, ok, "" if ok else "send failed")


# A claim older than this is taken for an interrupted send. It must outlast the longest
# send, retries included (bot.slack.reminders.SlackNotifier.longest_send, under 7 minutes):
# a send still under way must never be sent again by the next pass.
STALE_CLAIM = timedelta(minutes=10)


def _settle_interrupted_sends(db: Database, notifier: Notifier, now: datetime) -> None:
    """A process killed between claiming a key and recording the send leaves it claimed.
    Whether the message went out is asked of Slack (each message carries its key as
    metadata): found, it is recorded as sent; not found, as failed, so this pass sends it.
    Either way it goes out exactly once."""
    stale = store.stale_claims(db, now - STALE_CLAIM)
    applications = store.application_targets(db, {claim.application_id for claim in stale})
    for claim in stale:
        sent = notifier.was_sent(applications[claim.application_id], claim.recipient, claim.key, claim.claimed_at)
        if sent is not None:
            store.finish(db, store.Outcome(claim.key, sent, "" if sent else "interrupted before sending"), now)


def _retry_failed_expiry_notices(db: Database, notifier: Notifier, now: datetime, report: PassReport) -> None:
    failed = store.failed_flips(db, store.EVIDENCE)
    facts = store.evidence_facts(db, {evidence_id for _, evidence_id in failed})
    texts = store.evidence_text(db, set(facts))
    applications = store.application_targets(db, {application_id for application_id, _, _ in facts.values()})
    for key, evidence_id in failed:
        if evidence_id not in facts:
            continue
        application_id, item_id, expires_on = facts[evidence_id]
        if not store.claim(db, key, application_id, item_id, "", now):
            continue
        application = applications[application_id]
        checklist = get_checklist(*application.release_key)
        notice = Notice(application, checklist, checklist.item(item_id), *texts[evidence_id],
                        ExpiryFlip(application_id, item_id, evidence_id, expires_on))
        ok = notifier.expired(notice)
        store.finish(db, _outcome(key, ok), now)
        report.failed += not ok


def _carry_out(db: Database, notifier: Notifier, notice: Notice, now: datetime, pdm_default: str,
               report: PassReport) -> bool:
    action = notice.action
    if isinstance(action, Reminder):
        ok = notifier.remind(notice)
        report.sent += ok
        return ok
    if isinstance(action, ExpiryFlip):
        if notice.kind == store.CASE_STUDY:
            # A case study aged out: P2.1, P2.2 and D1 are judged again, with history.
            judged = case_study_store.rederive(db, action.application_id, ACTOR, now)
            notice = replace(notice, valid_case_studies=judged.assessment.counts.valid_today)
        else:
            flip = store.flip_expired(db, action.application_id, action.item_id, ACTOR, now)
            if not flip.expired:
                return True  # changed by someone since: nothing to announce
            notice = replace(notice, voided_sign_off_by=flip.voided_sign_off_by)
        report.flipped += 1
        return notifier.expired(notice)
    channel = notice.application.pdm_channel_id or pdm_default
    if not channel:
        return True  # no PDM channel anywhere: nobody to escalate to
    ok = notifier.escalate(notice, channel)
    report.escalated += ok
    return ok
