"""The PDM digest outside Slack: building every channel's digest, the terminal form
(its settings: :class:`bot.config.DigestSettings`)."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import TypeVar

from markupsafe import Markup

from bot.config import DigestSettings
from bot.render import render
from flows.checklist import Checklist, installed_releases
from flows.digest import ApplicationDigest, ChannelDigest, DigestChannel, build_digest
from flows.drills import DrillLine
from flows.evidence import local_today
from flows.readiness import ItemGap, Readiness
from storage import digests
from storage.db import Database

T = TypeVar("T")


def pdm_channels(db: Database, settings: DigestSettings, only: list[str] | None = None) -> list[DigestChannel]:
    found = digests.channels(db, settings.pdm_channel, settings.schedule)
    return [channel for channel in found if only is None or channel.channel_id in only]


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off while a digest is built or rendered. A digest creates
    millions of small objects that stay alive until it is rendered and form no cycles
    (reference counting frees them); every collection walked all of them again, a quarter
    to a third of the time over 10,000 applications. Left as it was when already off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def build_digests(db: Database, channels: list[DigestChannel], settings: DigestSettings,
                  now: datetime) -> list[ChannelDigest]:
    """Every listed channel's digest at ``now``, from one load of the database."""
    checklists = installed_releases()
    with cycle_collection_paused():
        return [
            build_digest(data.channel, data.applications, now, data.since, checklists)
            for data in digests.load(db, channels, settings.pdm_channel, now)
        ]


@dataclass(frozen=True)
class ApplicationLines:
    """Every line of one application's text but its first, rendered (templates/digest.j2
    and the macros it names), in the order ``application`` lays them out; each section's
    list is empty (or the line None) when the application has nothing to say there."""

    heading: Markup  # after the partner's name
    past_acceptance: Markup | None
    verdict: Markup
    progress: list[Markup]
    sign_offs: Markup | None
    unreviewed: Markup | None
    blocking: list[Markup]  # failing items, the not answered and skipped ones, case-study findings
    expiring: list[Markup]
    changes: list[Markup]


class RepeatedLines:
    """Renders each distinct line of a digest once. Many applications share a line — the
    same counts of a part, the same verdict, the same failing item, the same finding, the
    same expiry — and a digest of thousands of applications has far fewer distinct lines
    than lines. Each key holds every value its macro reads. The lines come escaped for
    Slack already: inserted as they are. ``application`` lays out whole lines only: a
    value looked up or a message formatted inside its macro cost more than a line.

    The lines are kept per macro, and a line found is not asked for its macro's arguments:
    a digest of 10,000 applications looks up some 170,000 lines, nearly all found."""

    def __init__(self, language: str, style: str):
        self.language, self.style = language, style
        self._rendered: dict[str, dict[Hashable, Markup]] = {}
        # _id_list: per macro and length, a line of ids as the text before, between and after
        # them (None: rendered for each list), and whether each release's ids are plain.
        self._id_forms: dict[tuple[str, int], tuple[str, str, str] | None] = {}
        self._plain_ids: dict[tuple[str, str], bool] = {}

    def _lines(self, macro: str) -> dict[Hashable, Markup]:
        found = self._rendered.get(macro)
        if found is None:
            found = self._rendered[macro] = {}
        return found

    def line(self, template: str, macro: str, key: Hashable, **params: object) -> Markup:
        rendered = self._lines(macro)
        found = rendered.get(key)
        if found is None:
            found = rendered[key] = Markup(render(template, macro, self.language, self.style, **params))
        return found

    def _each(self, template: str, macro: str, values: Iterable[T], key: Callable[[T], Hashable],
              name: str) -> list[Markup]:
        """The line of each of ``values``, the value passed to the macro as ``name``."""
        rendered, found = self._lines(macro), []
        for value in values:
            value_key = key(value)
            line = rendered.get(value_key)
            if line is None:
                line = rendered[value_key] = Markup(render(template, macro, self.language, self.style,
                                                           **{name: value}))
            found.append(line)
        return found

    def of(self, a: ApplicationDigest) -> ApplicationLines:
        r = a.readiness
        state, release = r.state, r.checklist.key
        audit, line = state.target_audit_date, self.line
        return ApplicationLines(
            heading=line("digest.j2", "heading", (state.delivery_type, audit, release),
                         delivery_type=state.delivery_type, target_audit_date=audit, checklist=r.checklist),
            past_acceptance=line("releases.j2", "past_acceptance", (release, audit),
                                 checklist=r.checklist, audit_day=audit)
            if r.past_acceptance else None,
            verdict=line("digest.j2", "verdict", (r.ready, r.audit_day, r.gap_count),
                         ready=r.ready, audit_day=r.audit_day, gap_count=r.gap_count),
            progress=self._each("common.j2", "progress_line", r.parts, _progress_key, "p"),
            sign_offs=line("common.j2", "sign_off_line", r.sign_offs, sign_offs=r.sign_offs) if r.sign_offs else None,
            unreviewed=self._unreviewed(r),
            blocking=self._blocking(a, release),
            expiring=self._each("digest.j2", "expiring", r.expiring,
                                lambda e: (release, e.item.id, e.expires_on, e.days_left), "e"),
            changes=self._changes(a, release),
        )

    def _unreviewed(self, r: Readiness) -> Markup | None:
        if not r.unreviewed:
            return None
        ids, required = tuple(item.id for item in r.unreviewed), r.sign_off_required
        return self.line("common.j2", "unreviewed_line", (ids, required), items=r.unreviewed, required=required)

    def _blocking(self, a: ApplicationDigest, release: tuple[str, str]) -> list[Markup]:
        r, line = a.readiness, self.line
        found = [line("digest.j2", "failing", (release, gap.item.id, gap.status), gap=gap) if not gap.lapses_on
                 else self._lapsing(release, gap, a.drills.get(gap.item.id)) for gap in r.failing]
        if r.unanswered:
            found.append(self._id_list("not_answered", r.unanswered_ids, r.checklist))
        if r.skipped:
            found.append(self._id_list("skipped", r.skipped_ids, r.checklist))
        # The parameters' repr in their given order: each rule builds them in one order.
        found += self._each("case_studies.j2", "finding", r.case_study_gaps,
                            lambda f: (f.rule, f.case_study_index, repr(f.params)), "f")
        return found

    def _id_list(self, macro: str, ids: tuple[str, ...], checklist: Checklist) -> Markup:
        """A list of item ids (not answered, skipped): nearly every application has its own,
        so the line is rendered once per length, with a stand-in for each id, and the ids
        joined into its place — when rendering would leave the checklist's ids as they are
        (nothing to escape, no space to trim at either end of a line) and the stand-ins
        stand one separator apart; otherwise rendered for them."""
        plain = self._plain_ids.get(checklist.key)
        if plain is None:
            plain = self._plain_ids[checklist.key] = not any(
                _CHANGED_BY_RENDERING.search(item.id) for item in checklist.items)
        form = self._id_forms.get((macro, len(ids)), False) if plain else None
        if form is False:
            stand_ins = (_ID_STAND_IN,) * len(ids)
            pieces = str.split(render("digest.j2", macro, self.language, self.style, ids=stand_ins), _ID_STAND_IN)
            separators = set(pieces[1:-1]) or {""}
            form = self._id_forms[macro, len(ids)] = (
                (pieces[0], separators.pop(), pieces[-1]) if len(separators) == 1 else None)
        if form is None:
            return self.line("digest.j2", macro, ids, ids=ids)
        before, separator, after = form
        return Markup(before + separator.join(ids) + after)

    def _lapsing(self, release: tuple[str, str], gap: ItemGap, drill: DrillLine | None) -> Markup:
        # With or without a drill, and the drill planned or not: its plan is part of the key.
        return self.line("digest.j2", "lapsing", (release, gap.item.id, gap.lapses_on, drill is not None,
                                                  drill and drill.plan), gap=gap, drill=drill)

    def _changes(self, a: ApplicationDigest, release: tuple[str, str]) -> list[Markup]:
        line = self.line
        found = [line("digest.j2", "new_application", ())] if a.created else []
        if a.status_changes:
            found += self._each("digest.j2", "status_change", a.status_changes,
                                lambda c: (release, c.item.id, c.old, c.new), "c")
        if a.evidence_added:
            found.append(line("digest.j2", "evidence_added", a.evidence_added, count=a.evidence_added))
        return found

    def application(self, a: ApplicationDigest) -> str:
        """The application's text: its partner's name, then its lines."""
        return render("digest.j2", "application", self.language, self.style,
                      partner=a.readiness.state.partner, lines=self.of(a))


# In place of an item id while a line of ids is rendered: a character no text holds.
_ID_STAND_IN = "\x00"
# What escaping (markupsafe's) would change in an item id, or trimming at either end of a line.
_CHANGED_BY_RENDERING = re.compile(r"[&<>'\"\x00]|^\s|\s$")
# A part's progress line reads its title and counts (the part's id names no release).
_progress_key = attrgetter("title", "applicable", "answered", "met", "not_met", "not_applicable", "skipped", "expired")


class SharedLines(dict[tuple[str, str], RepeatedLines]):
    """The :class:`RepeatedLines` of each language and style, shared by every channel of
    one run (every due channel's digest, built together): channels repeat each other's
    lines as applications do. Made per run, not per process: lines stay alive only as
    long as the run's digests."""

    def __missing__(self, key: tuple[str, str]) -> RepeatedLines:
        self[key] = found = RepeatedLines(*key)
        return found


def digest_text(digest: ChannelDigest, style: str = "text",
                shared: SharedLines | None = None) -> tuple[str, list[str]]:
    """The summary, and one text per application, in the channel's language; ``shared``:
    the lines already rendered for the other channels of the same run."""
    language = digest.channel.language
    summary = render("digest.j2", "summary", language, style, d=digest,
                     today=local_today(digest.now, digest.channel.timezone))
    lines = (SharedLines() if shared is None else shared)[language, style]
    with cycle_collection_paused():
        return summary, [lines.application(a) for a in digest.applications]


def printable(digest: ChannelDigest, shared: SharedLines | None = None) -> str:
    """The terminal form: a heading, the summary, then each application, separated by rules."""
    summary, applications = digest_text(digest, shared=shared)
    heading = render("digest.j2", "channel_heading", digest.channel.language, channel=digest.channel)
    rule = "-" * 60
    return "\n\n".join([f"{'=' * 60}\n{heading}\n{'=' * 60}", summary, *(f"{rule}\n{text}" for text in applications)])


def print_digests(db: Database, channels: list[DigestChannel], settings: DigestSettings, now: datetime) -> None:
    """``digest --print``: every channel's digest, readable in a terminal."""
    shared = SharedLines()
    for digest in build_digests(db, channels, settings, now):
        print(printable(digest, shared), end="\n\n")
