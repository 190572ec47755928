"""The PDM digest as plain values: each channel's applications, their readiness, what changed.

Pure: no SQL, no Slack, no clock — ``now`` is passed in, and the changes are what the
storage layer counted in the history since the channel's last posted digest. Also the schedule
arithmetic: when a channel's digest falls due, and the key that makes it post once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flows.application import DEFAULT_LANGUAGE, ApplicationState
from flows.case_studies import CaseStudy, SolutionDocuments
from flows.checklist import Checklist, Item
from flows.drills import DrillLine, DrillPlan, drill_lines
from flows.evidence import local_today, zone
from flows.readiness import Readiness, readiness

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Without a previous digest, "what changed" covers one schedule period.
FIRST_DIGEST_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Schedule:
    """Weekly: a day of the week and an hour, local to the channel."""

    day: str = "mon"
    hour: int = 9


DEFAULT_SCHEDULE = Schedule()


class ScheduleProblem(ValueError):
    """A schedule that cannot be read: ``reason`` is ``weekday_and_hour`` (the shape) or
    ``hour`` (out of 0–23); the words are the adapter's (templates/cli.j2)."""

    def __init__(self, text: str, reason: str):
        super().__init__(f"{reason}: {text!r}")
        self.text, self.reason = text, reason


def parse_schedule(text: str) -> Schedule:
    """``"mon 09"``, ``"Fri 17"`` or ``"tue 8:00"``; :class:`ScheduleProblem` says what is wrong."""
    words = text.split()
    if len(words) != 2 or words[0].lower()[:3] not in WEEKDAYS:
        raise ScheduleProblem(text, "weekday_and_hour")
    hour_text = words[1].split(":")[0]
    if not hour_text.isdigit() or not 0 <= int(hour_text) <= 23:
        raise ScheduleProblem(text, "hour")
    return Schedule(words[0].lower()[:3], int(hour_text))


@dataclass(frozen=True)
class DigestChannel:
    channel_id: str
    team_id: str = ""
    language: str = DEFAULT_LANGUAGE
    timezone: str = "UTC"
    schedule: Schedule = DEFAULT_SCHEDULE


def latest_slot(now: datetime, channel: DigestChannel) -> datetime:
    """The most recent scheduled moment at or before ``now``, in the channel's time zone."""
    here = zone(channel.timezone)
    local = now.astimezone(here)
    days_back = (local.weekday() - WEEKDAYS.index(channel.schedule.day)) % 7
    slot = datetime.combine(local.date() - timedelta(days=days_back), time(channel.schedule.hour), tzinfo=here)
    if slot > now:
        slot = datetime.combine(slot.date() - timedelta(days=7), time(channel.schedule.hour), tzinfo=here)
    return slot


def digest_key(channel: DigestChannel, slot: datetime) -> str:
    """One key per channel and schedule slot: the digest of that slot posts once."""
    return f"digest:{channel.team_id}:{channel.channel_id}:{slot.isoformat(timespec='minutes')}"


@dataclass(frozen=True)
class Changes:
    """What one application's history holds after the channel's last digest, as storage
    counts it: each item whose status changed — its status before the first change and
    after the last, in the order of their first changes —, the pieces of evidence added
    (not those an undo took away), and whether the application was created."""

    statuses: tuple[tuple[str, str | None, str | None], ...] = ()  # item id, before, after
    evidence: int = 0
    created: bool = False


NO_CHANGES = Changes()


@dataclass(frozen=True)
class ApplicationInput:
    state: ApplicationState
    case_studies: tuple[CaseStudy, ...] = ()
    documents: SolutionDocuments = SolutionDocuments()
    plans: Mapping[str, DrillPlan] = field(default_factory=dict)  # the newest drill plan per item
    changes: Changes = NO_CHANGES


@dataclass(frozen=True)
class StatusChange:
    item: Item
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ApplicationDigest:
    readiness: Readiness
    status_changes: tuple[StatusChange, ...]
    evidence_added: int
    created: bool
    # Drills whose evidence lapses before the audit, by item id: planned or not.
    drills: Mapping[str, DrillLine] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.status_changes or self.evidence_added or self.created)


@dataclass(frozen=True)
class ChannelDigest:
    channel: DigestChannel
    now: datetime
    since: datetime  # changes are counted after this moment
    first: bool  # no earlier digest was posted to this channel
    applications: tuple[ApplicationDigest, ...]

    @property
    def ready(self) -> int:
        return sum(a.readiness.ready for a in self.applications)

    @property
    def expiring_soon(self) -> int:
        return sum(bool(a.readiness.expiring_soon) for a in self.applications)

    @property
    def changed(self) -> int:
        return sum(a.changed for a in self.applications)

    @property
    def created(self) -> int:
        return sum(a.created for a in self.applications)

    @property
    def status_changes(self) -> int:
        return sum(len(a.status_changes) for a in self.applications)

    @property
    def evidence_added(self) -> int:
        return sum(a.evidence_added for a in self.applications)


def _status_changes(checklist: Checklist, changes: Changes) -> tuple[StatusChange, ...]:
    """Items changed back to the status they had drop out, and so do items no longer in the checklist."""
    found = []
    for item_id, old, new in changes.statuses:
        item = checklist.item(item_id)
        if item is not None and old != new:
            found.append(StatusChange(item, old, new))
    return tuple(found)


def build_digest(
    channel: DigestChannel,
    applications: Iterable[ApplicationInput],
    now: datetime,
    since: datetime | None,
    checklists: Mapping[tuple[str, str], Checklist],
) -> ChannelDigest:
    """``since`` is when the channel's last digest was posted (None: never); each
    application's changes are counted from then."""
    digests = []
    for entry in applications:
        state = entry.state
        checklist = checklists[state.release_key]  # the release the application answers
        judged = readiness(checklist, state, entry.case_studies, entry.documents, local_today(now, state.timezone))
        lapsing = ((gap.item, gap.lapses_on) for gap in judged.failing if gap.lapses_on)
        digests.append(
            ApplicationDigest(
                readiness=judged,
                status_changes=_status_changes(checklist, entry.changes),
                evidence_added=entry.changes.evidence,
                created=entry.changes.created,
                drills={line.item.id: line for line in drill_lines(lapsing, state, entry.plans)},
            )
        )
    # The stuck ones first, the soonest audits first among them.
    digests.sort(key=lambda d: (d.readiness.ready, d.readiness.audit_day, d.readiness.state.partner.casefold()))
    return ChannelDigest(
        channel=channel,
        now=now,
        since=since if since is not None else now - FIRST_DIGEST_LOOKBACK,
        first=since is None,
        applications=tuple(digests),
    )
