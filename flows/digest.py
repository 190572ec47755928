"""The PDM digest as plain values: each channel's applications, their readiness, what changed.

Pure: no SQL, no Slack, no clock — ``now`` is passed in, and the changes are the history
rows the storage layer read since the channel's last posted digest. Also the schedule
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
class Change:
    """One history row: what changed on an application."""

    application_id: int
    item_id: str | None
    field: str
    old_value: str | None
    new_value: str | None
    at: datetime


@dataclass(frozen=True)
class ApplicationInput:
    state: ApplicationState
    case_studies: tuple[CaseStudy, ...] = ()
    documents: SolutionDocuments = SolutionDocuments()
    plans: Mapping[str, DrillPlan] = field(default_factory=dict)  # the newest drill plan per item


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


def _status_changes(checklist: Checklist, changes: Iterable[Change]) -> tuple[StatusChange, ...]:
    """Each item's status before the first and after the last change; items changed back drop out."""
    first_old: dict[str, str | None] = {}
    last_new: dict[str, str | None] = {}
    for change in changes:
        if change.field == "status" and change.item_id:
            first_old.setdefault(change.item_id, change.old_value)
            last_new[change.item_id] = change.new_value
    found = []
    for item_id, new in last_new.items():
        item = checklist.item(item_id)
        if item is not None and first_old[item_id] != new:
            found.append(StatusChange(item, first_old[item_id], new))
    return tuple(found)


def build_digest(
    channel: DigestChannel,
    applications: Iterable[ApplicationInput],
    changes: Iterable[Change],
    now: datetime,
    since: datetime | None,
    checklists: Mapping[tuple[str, str], Checklist],
) -> ChannelDigest:
    """``since`` is when the channel's last digest was posted (None: never)."""
    by_application: dict[int, list[Change]] = {}
    for change in changes:
        by_application.setdefault(change.application_id, []).append(change)
    digests = []
    for entry in applications:
        state = entry.state
        checklist = checklists[state.release_key]  # the release the application answers
        own = by_application.get(state.id, ())
        judged = readiness(checklist, state, entry.case_studies, entry.documents, local_today(now, state.timezone))
        lapsing = ((gap.item, gap.lapses_on) for gap in judged.failing if gap.lapses_on)
        digests.append(
            ApplicationDigest(
                readiness=judged,
                status_changes=_status_changes(checklist, own),
                evidence_added=sum(change.field == "evidence" for change in own),
                created=any(change.field == "created" for change in own),
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
