"""The PDM digest outside Slack: building every channel's digest, the terminal form
(its settings: :class:`bot.config.DigestSettings`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from markupsafe import Markup

from bot.config import DigestSettings
from bot.render import render
from flows.case_studies import Finding
from flows.checklist import installed_releases
from flows.digest import ChannelDigest, DigestChannel, build_digest
from flows.evidence import local_today
from flows.progress import PartProgress
from storage import digests
from storage.db import Database


def pdm_channels(db: Database, settings: DigestSettings, only: list[str] | None = None) -> list[DigestChannel]:
    found = digests.channels(db, settings.pdm_channel, settings.schedule)
    return [channel for channel in found if only is None or channel.channel_id in only]


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector off while a digest is built or rendered. A digest creates
    millions of small objects that stay alive until it is posted and form no cycles
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
            build_digest(data.channel, data.applications, data.changes, now, data.since, checklists)
            for data in digests.load(db, channels, settings.pdm_channel, now)
        ]


def digest_text(digest: ChannelDigest, style: str = "text") -> tuple[str, list[str]]:
    """The summary, and one text per application, in the channel's language."""
    language = digest.channel.language
    summary = render("digest.j2", "summary", language, style, d=digest,
                     today=local_today(digest.now, digest.channel.timezone))
    # The same finding ("too few public case studies") and the same counts of a part recur
    # in many applications: each distinct one is rendered once. Already escaped for Slack:
    # inserted as is.
    findings: dict[tuple, Markup] = {}
    progress: dict[PartProgress, Markup] = {}

    def finding(f: Finding) -> Markup:
        key = (f.rule, f.case_study_index, repr(sorted(f.params.items())))
        if key not in findings:
            findings[key] = Markup(render("case_studies.j2", "finding", language, style, f=f))
        return findings[key]

    def progress_line(p: PartProgress) -> Markup:
        if p not in progress:
            progress[p] = Markup(render("common.j2", "progress_line", language, style, p=p))
        return progress[p]

    with cycle_collection_paused():
        return summary, [
            render("digest.j2", "application", language, style, a=a,
                   progress=[progress_line(p) for p in a.readiness.parts],
                   findings=[finding(f) for f in a.readiness.case_study_gaps])
            for a in digest.applications
        ]


def printable(digest: ChannelDigest) -> str:
    """The terminal form: a heading, the summary, then each application, separated by rules."""
    summary, applications = digest_text(digest)
    heading = render("digest.j2", "channel_heading", digest.channel.language, channel=digest.channel)
    rule = "-" * 60
    return "\n\n".join([f"{'=' * 60}\n{heading}\n{'=' * 60}", summary, *(f"{rule}\n{text}" for text in applications)])


def print_digests(db: Database, channels: list[DigestChannel], settings: DigestSettings, now: datetime) -> None:
    """``digest --print``: every channel's digest, readable in a terminal."""
    for digest in build_digests(db, channels, settings, now):
        print(printable(digest), end="\n\n")
