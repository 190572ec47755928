"""Releases of one checklist side by side: what changed between two, and what moving an
application from one to the other does to its answers.

Pure: two :class:`Checklist` values and an application's state in, plain values out;
storage writes an upgrade (``storage/walks.upgrade``), the bot shows diffs and plans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flows.application import ApplicationState
from flows.checklist import LANGUAGES, Checklist, Item, release_order

# What makes an item "changed": its requirement, where it applies, its evidence window,
# and the answers it allows. A new title or section alone changes nothing a team answered.
COMPARED = ("text", "applies_to", "max_age", "answers")


def _compared(item: Item, aspect: str) -> object:
    if aspect == "text":
        return tuple(item.text(language) for language in LANGUAGES) + tuple(
            item.evidence(language) for language in LANGUAGES)
    if aspect == "answers":
        return (item.na_allowed, tuple(choice.id for choice in item.answers))
    return getattr(item, aspect)


@dataclass(frozen=True)
class ItemChange:
    item_id: str
    aspects: tuple[str, ...]  # of COMPARED
    old: Item
    new: Item


@dataclass(frozen=True)
class ReleaseDiff:
    old: Checklist
    new: Checklist
    added: tuple[Item, ...]
    removed: tuple[Item, ...]
    changed: tuple[ItemChange, ...]

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old: Checklist, new: Checklist) -> ReleaseDiff:
    """Items are one item across releases when they have the same id."""
    changed = []
    for item in new.items:
        before = old.item(item.id)
        if before is None:
            continue
        aspects = tuple(a for a in COMPARED if _compared(before, a) != _compared(item, a))
        if aspects:
            changed.append(ItemChange(item.id, aspects, before, item))
    return ReleaseDiff(
        old=old, new=new,
        added=tuple(item for item in new.items if old.item(item.id) is None),
        removed=tuple(item for item in old.items if new.item(item.id) is None),
        changed=tuple(changed),
    )


@dataclass(frozen=True)
class UpgradePlan:
    """Moving one application to ``diff.new``: ``after`` is its state in the new release.

    - kept: items in both releases, unchanged, with their answers and evidence as they were;
    - reopened: changed items that had an answer, now open again, the old answer kept as
      ``previous_status`` (and its evidence kept) for the team to confirm or change;
    - archived: answered items the new release drops; their rows stay, answered to the
      old release, in the history and in exports made of it.
    """

    diff: ReleaseDiff
    before: ApplicationState
    after: ApplicationState
    kept: tuple[str, ...]
    reopened: tuple[str, ...]
    archived: tuple[str, ...]

    @property
    def problem(self) -> str | None:
        """Why the move is refused: ``other_checklist``, ``not_newer`` or ``same_release``."""
        old, new = self.diff.old, self.diff.new
        if old.id != new.id:
            return "other_checklist"
        if old.release == new.release:
            return "same_release"
        if release_order(new) < release_order(old):
            return "not_newer"
        return None


def upgrade_plan(old: Checklist, new: Checklist, state: ApplicationState) -> UpgradePlan:
    changes = diff(old, new)
    changed = {change.item_id for change in changes.changed}
    answered = {item_id for item_id, answer in state.answers.items() if answer.status is not None}
    reopened = tuple(item.id for item in new.items if item.id in changed and item.id in answered)
    answers = dict(state.answers)
    for item_id in reopened:
        answer = answers[item_id]
        answers[item_id] = replace(answer, status=None, previous_status=answer.status, answered_by="",
                                   answered_at=None)
    cursor = state.cursor if state.cursor is None or new.item(state.cursor) else None
    after = replace(state, checklist_release=new.release, answers=answers, cursor=cursor, pending=None,
                    finished=state.finished and not reopened and not changes.added)
    return UpgradePlan(
        diff=changes, before=state, after=after,
        kept=tuple(item.id for item in new.items if item.id in answered and item.id not in changed),
        reopened=reopened,
        archived=tuple(item.id for item in changes.removed if item.id in answered),
    )
