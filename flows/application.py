"""An application's state as plain values: what the engine reads and returns.

Nothing here knows about SQL or Slack. ``storage`` turns rows into these values
and back; ``bot`` shows them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from flows.checklist import Checklist, Item

if TYPE_CHECKING:
    from flows.sign_off import Review

MET = "met"
NOT_MET = "not_met"
NOT_APPLICABLE = "not_applicable"
SKIPPED = "skipped"
EXPIRED = "expired"

# The language of an application, a channel or a command when none is chosen.
DEFAULT_LANGUAGE = "zh"

# Longest free text we accept anywhere (Slack's section text limit), and longest name.
MAX_TEXT = 3000
MAX_NAME = 200
REQUIRED, TOO_LONG, BAD_CHARACTERS = "required", "too_long", "bad_characters"
# Unicode's Bidi_Control characters (U+061C, U+200E/F, U+202A–E, U+2066–9), which
# unicodedata does not name: they reorder the text around them, so a name holding one can
# display as another name.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: a link or a description, maybe dated."""

    text: str
    evidence_date: date | None = None
    expires_on: date | None = None
    added_by: str = ""
    added_at: datetime | None = None
    id: int | None = None  # set once stored


@dataclass(frozen=True)
class Answer:
    status: str | None = None
    note: str = ""
    answered_by: str = ""
    answered_at: datetime | None = None
    assignee: str = ""
    evidence: tuple[Evidence, ...] = ()
    review: Review | None = None  # the standing sign-off decision (flows.sign_off)
    previous_status: str | None = None  # the answer a release upgrade reopened

    @property
    def latest_evidence(self) -> Evidence | None:
        return self.evidence[-1] if self.evidence else None

    @cached_property  # read several times per item by progress, readiness and the digest
    def expires_on(self) -> date | None:
        """The expiry of the newest dated evidence: newer evidence supersedes older."""
        dated = [e for e in self.evidence if e.evidence_date is not None]
        if not dated:
            return None
        return max(dated, key=lambda e: e.evidence_date).expires_on


# Shared by every unanswered item: answers are immutable, and building one per lookup
# dominated the digest's time over many applications.
NO_ANSWER = Answer()


@dataclass(frozen=True)
class Pending:
    """A question the engine asked and is waiting for an answer to."""

    item_id: str
    awaiting: str  # "evidence" or "date"


@dataclass(frozen=True)
class ApplicationState:
    partner: str
    delivery_type: str
    checklist_id: str
    categories: tuple[str, ...] = ()
    language: str = DEFAULT_LANGUAGE
    target_audit_date: date | None = None
    timezone: str = "UTC"
    cursor: str | None = None
    pending: Pending | None = None
    finished: bool = False
    answers: dict[str, Answer] = field(default_factory=dict)
    pdm_channel: str = ""
    lead_times: tuple[int, ...] | None = None
    # Who signs met items off (Slack user ids, or names in the terminal); none: sign-off is off.
    reviewers: tuple[str, ...] = ()
    require_sign_off: bool = False  # the audit-day verdict counts only signed-off items
    id: int | None = None
    checklist_release: str = ""  # the release answered; "" (a state not stored yet): the newest

    @property
    def release_key(self) -> tuple[str, str]:
        return (self.checklist_id, self.checklist_release)

    def answer(self, item_id: str) -> Answer:
        return self.answers.get(item_id, NO_ANSWER)

    def with_answer(self, item_id: str, answer: Answer) -> ApplicationState:
        return replace(self, answers={**self.answers, item_id: answer})


def changed_answers(before: ApplicationState, after: ApplicationState) -> list[tuple[str, Answer, Answer]]:
    """The answers of ``after`` that are not ``before``'s very objects, each as (item id,
    the answer it replaces or :data:`NO_ANSWER`, itself). A step keeps the answers it did
    not change, so this identity test, in one comprehension, is all a walk's later steps
    pay for the answers they leave alone."""
    old = before.answers
    return [(item_id, old.get(item_id, NO_ANSWER), answer)
            for item_id, answer in after.answers.items() if answer is not old.get(item_id)]


def partner_problem(partner: str) -> str | None:
    if not partner.strip():
        return REQUIRED
    if len(partner) > MAX_NAME:
        return TOO_LONG
    if any(unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS for c in partner):
        return BAD_CHARACTERS
    return None


def partner_key(name: str) -> str:
    """What makes two partner names one partner: compatibility forms folded (fullwidth
    "Ａｃｍｅ" is "Acme"), case folded, invisible format characters (zero-width spaces and
    joiners) dropped, runs of spaces as one."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    # Turkish capital İ folds to "i" plus a combining dot above, the dot that "i" already
    # has: "İstanbul" and "Istanbul" are one name.
    folded = folded.replace("i\u0307", "i")
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())


def new_application_problems(
    partner: str, delivery_type: str | None, categories: tuple[str, ...], checklist: Checklist
) -> dict[str, str]:
    """What is wrong with the fields of a new application: field → problem code."""
    problems = {}
    if problem := partner_problem(partner):
        problems["partner"] = problem
    if delivery_type not in {d.id for d in checklist.delivery_types}:
        problems["delivery"] = REQUIRED
    if not categories:
        problems["categories"] = REQUIRED
    return problems


def is_expired(expires_on: date | None, on: date) -> bool:
    """Evidence counts up to and including its expiry date."""
    return expires_on is not None and on > expires_on


def effective_status(answer: Answer, on: date) -> str | None:
    """The status as of a day: met evidence whose window closed by then is expired."""
    if answer.status == MET and is_expired(answer.expires_on, on):
        return EXPIRED
    return answer.status


def applicable_items(checklist: Checklist, state: ApplicationState) -> list[Item]:
    return checklist.applicable_items(state.delivery_type)
