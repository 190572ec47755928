"""Which expiry reminders, status flips and escalations are due at a given moment.

Pure logic: no SQL, no Slack, no clock. The scheduler passes ``now`` (an aware
datetime), the newest dated evidence per answer and the keys it has already recorded;
it gets back the actions to carry out and records their keys (and ``skipped_keys``)
in the same transaction as it acts, so that every action happens once.

Exact rules chosen here
-----------------------

* **Calendars.** ``expires_on`` is a calendar day of the application's time zone and is
  the last day the evidence counts (:func:`flows.application.is_expired` is true the day
  after). A reminder for lead time ``L`` is due at 09:00 in the *recipient's* time zone
  (``recipient_tz`` when it is a known IANA name, else ``app_tz``, else UTC) on the day
  ``expires_on - L``, so nobody is pinged at night. ``days_left`` counts on the
  application's calendar, the one that decides expiry: a recipient far west of the
  application may read ``days_left == 0`` on the one-day reminder.
* **Countdown and audit date.** Reminders always count down to ``expires_on``. When a
  target audit date is set and the evidence no longer counts on that day
  (``is_expired(expires_on, target_audit_date)``, i.e. ``expires_on < target_audit_date``)
  the reminder carries ``stale_by_audit=True``; expiring on the audit day itself is not
  stale. An audit date before expiry changes nothing.
* **Which answers.** Only the newest dated evidence of an answer counts (newer evidence
  has a new ``evidence_id``, so the old one's pending reminders simply stop). Reminders go
  only to answers stored as ``met`` whose evidence still counts on the application's
  calendar; lead times that would fall due after that are never sent — the flip takes
  over.
* **Missed lead times and grace.** Of the lead times due by ``now`` and not yet
  recorded, only the most recent one is sent, and only if it fell due no longer than
  ``grace`` ago (a scheduler down for two hours catches up; one down a month does not
  send a stale "60 days left"). The older ones travel in ``skipped_keys`` to be recorded
  without sending. If even the most recent one is older than ``grace`` nothing is
  returned for that evidence; its keys are skipped along with the next reminder sent.
* **Snooze.** ``snoozed_until`` (clamped to 09:00 recipient-local on the expiry day)
  moves every lead time due before it to the snooze end; the grace rule above then makes
  the most recent of them fire once at the snooze end. ``due_at`` is that effective
  moment. Snoozes never delay flips or escalations.
* **Key scheme.** ``ReminderKey(evidence_id, lead_days)``: ``lead_days >= 0`` is the
  reminder sent ``lead_days`` before expiry; a negative value ``-n`` is the action on the
  ``n``-th day past ``expires_on``: ``-1`` the met → expired flip (09:00 application time
  on the day after expiry, because it tells the channel), ``-8`` the escalation to the PDM channel (09:00
  application time, seven days after the flip). Lead times must therefore be ``>= 0``.
  The flip needs the stored status ``met``; the escalation ``met`` or ``expired``.
* **Case studies.** ``case_study_dates`` (per application, set by the storage layer on
  the case-study items' rows) gives ``valid_case_studies`` on the reminder, aged against
  that row's item window: "N of 4 valid remain".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import ClassVar, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from flows.application import EXPIRED, MET, is_expired
from flows.checklist import Item

DEFAULT_LEAD_DAYS: tuple[int, ...] = (60, 30, 14, 7, 1, 0)
SHORT_LEAD_DAYS: tuple[int, ...] = (1, 0)
DEFAULT_GRACE = timedelta(days=3)
SEND_AT = time(9, 0)
FLIP_LEAD = -1  # the day after expiry
ESCALATION_DAYS_AFTER_FLIP = 7
ESCALATION_LEAD = FLIP_LEAD - ESCALATION_DAYS_AFTER_FLIP  # -8


class ReminderKey(NamedTuple):
    """Identifies one action on one piece of evidence, so that it happens once.

    A NamedTuple rather than a dataclass: the pass looks keys up as plain tuples, so
    checking 100,000 rows against the recorded set builds no objects.
    """

    evidence_id: int
    lead_days: int


@dataclass(frozen=True, slots=True)
class TrackedEvidence:
    """The newest dated evidence of one answer, as the storage layer reads it."""

    application_id: int
    item_id: str
    evidence_id: int
    evidence_date: date
    expires_on: date
    status: str  # the answer's stored status
    assignee: str  # Slack user id, or "" for the application's channel
    recipient_tz: str | None  # the assignee's time zone, if known
    app_tz: str
    target_audit_date: date | None = None
    snoozed_until: datetime | None = None  # aware
    lead_override: tuple[int, ...] | None = None  # the application's own lead days
    case_study_dates: tuple[date, ...] | None = None


@dataclass(slots=True)
class Reminder:
    """Tell the recipient that evidence expires soon; record ``skipped_keys`` unsent."""

    application_id: int
    item_id: str
    evidence_id: int
    expires_on: date
    lead_days: int
    days_left: int  # on the application's calendar
    due_at: datetime  # when it fell due (the snooze end for snoozed lead times)
    stale_by_audit: bool
    recipient: str  # "" means the application's channel
    skipped_leads: tuple[int, ...] = ()  # older missed lead times, largest first
    valid_case_studies: int | None = None
    skip_reason: ClassVar[str] = "a later lead time was due"

    @property
    def key(self) -> ReminderKey:
        return ReminderKey(self.evidence_id, self.lead_days)

    @property
    def skipped_keys(self) -> tuple[ReminderKey, ...]:
        """Keys to record without sending (built on demand: a pass may skip many)."""
        return _keys(self.evidence_id, self.skipped_leads)


def _keys(evidence_id: int, leads: tuple[int, ...]) -> tuple[ReminderKey, ...]:
    return tuple(ReminderKey(evidence_id, lead) for lead in leads)


@dataclass(slots=True)
class ExpiryFlip:
    """The answer's stored status goes from met to expired."""

    application_id: int
    item_id: str
    evidence_id: int
    expires_on: date
    skipped_leads: tuple[int, ...] = ()  # lead times never sent: recorded as skipped with the flip
    skip_reason: ClassVar[str] = "the evidence expired before it was sent"

    @property
    def key(self) -> ReminderKey:
        return ReminderKey(self.evidence_id, FLIP_LEAD)

    @property
    def skipped_keys(self) -> tuple[ReminderKey, ...]:
        return _keys(self.evidence_id, self.skipped_leads)


@dataclass(slots=True)
class Escalation:
    """Evidence still expired a week after the flip: tell the application's PDM channel."""

    application_id: int
    item_id: str
    evidence_id: int
    expires_on: date
    days_expired: int  # full days since the last day the evidence counted

    @property
    def key(self) -> ReminderKey:
        return ReminderKey(self.evidence_id, ESCALATION_LEAD)


# Actions are plain slotted dataclasses, not frozen ones: a pass may build one per row and
# frozen ones cost four to five times as much to construct.
Action = Reminder | ExpiryFlip | Escalation


def window_days(item: Item) -> int | None:
    """Length of a short (days/weeks) window in days; None for month/year windows."""
    if item.max_age is None or not item.short_window:
        return None
    return item.max_age.get("weeks", 0) * 7 + item.max_age.get("days", 0)


def lead_times(item: Item, override: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """Days before expiry at which to remind, largest first; () for undated items.

    An override replaces the defaults of long windows. Short windows keep (1, 0) unless
    every override value is shorter than the window (a 30-day lead on a 7-day window
    would fire before the evidence exists). An empty override turns reminders off.
    """
    if item.max_age is None:
        return ()
    if override is None:
        return SHORT_LEAD_DAYS if item.short_window else DEFAULT_LEAD_DAYS
    if any(lead < 0 for lead in override):
        raise ValueError(f"lead times must be 0 or more days, got {override}")
    chosen = tuple(sorted(set(override), reverse=True))
    length = window_days(item)
    if length is not None and any(lead >= length for lead in chosen):
        return SHORT_LEAD_DAYS
    return chosen


def stale_by_audit(expires_on: date, target_audit_date: date | None) -> bool:
    """True when the evidence will no longer count on the audit day."""
    return target_audit_date is not None and is_expired(expires_on, target_audit_date)


@lru_cache(maxsize=512)
def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def recipient_zone(recipient_tz: str | None, app_tz: str | None) -> ZoneInfo:
    """The recipient's own zone when known, else the application's, else UTC."""
    return _zone(recipient_tz) or _zone(app_tz) or ZoneInfo("UTC")


def send_moment(day: date, zone: ZoneInfo) -> datetime:
    """09:00 local on ``day``: reminders never go out at night."""
    return datetime.combine(day, SEND_AT, tzinfo=zone)


def last_reminder_day(expires_on: date, app_zone: ZoneInfo, zone: ZoneInfo) -> date:
    """See :meth:`_Local.last_day`; in the application's own zone, ``expires_on`` itself."""
    if zone.key == app_zone.key:
        return expires_on
    ends = datetime.combine(expires_on + timedelta(days=1), time(0), tzinfo=app_zone)
    day = ends.astimezone(zone).date()
    while send_moment(day, zone) >= ends:  # compared as instants, so DST days are exact
        day -= timedelta(days=1)
    return day


def snooze_until(
    now: datetime, choice: Literal["day", "week"], expires_on: date, tz: str
) -> datetime:
    """09:00 local tomorrow or in a week, but never past 09:00 on the expiry day."""
    days = {"day": 1, "week": 7}.get(choice)
    if days is None:
        raise ValueError(f"snooze choice must be 'day' or 'week', got {choice!r}")
    _require_aware(now)
    zone = recipient_zone(tz, None)
    today = now.astimezone(zone).date()
    return min(send_moment(today + timedelta(days=days), zone), send_moment(expires_on, zone))


def valid_case_study_count(
    dates: Iterable[date], max_age: Mapping[str, int], on: date
) -> int:
    """How many case studies still count on ``on`` (each counts through date + max_age)."""
    window = relativedelta(**max_age)
    return sum(not is_expired(produced + window, on) for produced in dates)


def newest_per_answer(evidence: Iterable[TrackedEvidence]) -> list[TrackedEvidence]:
    """Keep the newest dated evidence per (application, item): newer evidence cancels older."""
    newest: dict[tuple[int, str], TrackedEvidence] = {}
    for row in evidence:
        answer = (row.application_id, row.item_id)
        kept = newest.setdefault(answer, row)
        if kept is not row and (row.evidence_date, row.evidence_id) > (kept.evidence_date, kept.evidence_id):
            newest[answer] = row
    return list(newest.values())


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


class _Local:
    """``now`` and ``now - grace`` seen from one zone, reduced to what the day arithmetic needs."""

    __slots__ = ("zone", "today", "past_nine", "oldest_day", "oldest_by_nine", "_last_days")

    def __init__(self, zone: ZoneInfo, now: datetime, oldest: datetime) -> None:
        here, then = now.astimezone(zone), oldest.astimezone(zone)
        self.zone = zone
        self.today = here.date()
        self.past_nine = here.time() >= SEND_AT  # 09:00 today is due
        self.oldest_day = then.date()
        self.oldest_by_nine = then.time() <= SEND_AT  # 09:00 that day is within the grace
        self._last_days: dict[tuple[date, str], date] = {}

    def last_day(self, expires_on: date, app_zone: ZoneInfo) -> date:
        """The last day of this zone's calendar whose 09:00 comes before the evidence stops
        counting (midnight after ``expires_on`` in the application's zone): the day of the
        "expires today" reminder. West of the application it is often the day before."""
        key = (expires_on, app_zone.key)
        found = self._last_days.get(key)
        if found is None:
            found = self._last_days[key] = last_reminder_day(expires_on, app_zone, self.zone)
        return found


class _Clock:
    """Per-zone views of ``now``, computed once per zone for the whole pass."""

    def __init__(self, now: datetime, grace: timedelta) -> None:
        self.now = now
        self.oldest = now - grace
        self.apps: dict[str, _Local] = {}
        self._recipients: dict[tuple[str, str], _Local] = {}

    def app(self, app_tz: str) -> _Local:
        found = self.apps.get(app_tz)
        if found is None:
            found = self.apps[app_tz] = _Local(recipient_zone(None, app_tz), self.now, self.oldest)
        return found

    def recipient(self, recipient_tz: str | None, app_tz: str) -> _Local:
        if not recipient_tz or recipient_tz == app_tz:
            return self.app(app_tz)
        names = (recipient_tz, app_tz)
        found = self._recipients.get(names)
        if found is None:
            zone = recipient_zone(recipient_tz, app_tz)
            found = self._recipients[names] = _Local(zone, self.now, self.oldest)
        return found


class _Leads:
    """The lead days of a row, computed once per (item, override) for a whole pass. Lead
    days: the application's own (``lead_override``) win; else ``checklist_leads``; else the
    defaults of :func:`lead_times`. Only a met answer is reminded: () otherwise."""

    def __init__(self, checklist_items: Mapping[str, Item], checklist_leads: tuple[int, ...] | None) -> None:
        self.items = checklist_items
        self.checklist_leads = checklist_leads
        self.cache: dict[tuple[str, tuple[int, ...] | None], tuple[int, ...]] = {}

    def __call__(self, row: TrackedEvidence) -> tuple[int, ...]:
        if row.status != MET:
            return ()
        override = row.lead_override if row.lead_override is not None else self.checklist_leads
        cache_key = (row.item_id, override)
        leads = self.cache.get(cache_key)
        if leads is None:
            item = self.items.get(row.item_id)
            leads = self.cache[cache_key] = () if item is None else lead_times(item, override)
        return leads


def next_checks(
    evidence: Iterable[TrackedEvidence],
    checklist_items: Mapping[str, Item],
    now: datetime,
    already: set[ReminderKey],
    grace: timedelta = DEFAULT_GRACE,
    checklist_leads: tuple[int, ...] | None = None,
) -> dict[int, datetime]:
    """Per application, the earliest moment at which :func:`due_actions` can return an
    action for these rows that ``already`` does not record: a pass needs to look at the
    application again only then (or when something it depends on changes). Applications
    for which nothing can fall due are left out.

    The moments are those of :func:`due_actions`: each unrecorded lead time at 09:00
    recipient-local on its day (its snooze end when later), the flip at 09:00 application
    time the day after expiry, the escalation seven days later. A lead time whose moment
    is older than ``grace`` never goes out by itself (the next one records it as skipped),
    so it sets no moment. A moment at or before ``now`` (a failed send) means the next
    pass looks again."""
    _require_aware(now)
    oldest = now - grace
    leads_of = _Leads(checklist_items, checklist_leads)
    # Rows share expiry days, zones and lead days: each combination's moments once per call.
    schedules: dict[tuple, tuple[tuple[tuple[int, datetime], ...], datetime, datetime, datetime]] = {}
    found: dict[int, datetime] = {}
    for row in newest_per_answer(evidence):
        status = row.status
        if status != MET and status != EXPIRED:
            continue
        evidence_id = row.evidence_id
        leads = leads_of(row)
        shape = (row.expires_on, row.app_tz, row.recipient_tz, leads)
        schedule = schedules.get(shape)
        if schedule is None:
            schedule = schedules[shape] = _moments(row.expires_on, row.app_tz, row.recipient_tz, leads)
        lead_moments, last_moment, flip_at, escalation_at = schedule
        earliest = None
        for lead, at in lead_moments:  # largest lead first: earliest first
            if (evidence_id, lead) in already:
                continue
            if row.snoozed_until is not None:
                at = max(at, min(row.snoozed_until, last_moment))
            if at >= oldest:
                earliest = at
                break
        if status == MET and (evidence_id, FLIP_LEAD) not in already and (earliest is None or flip_at < earliest):
            earliest = flip_at
        if (evidence_id, ESCALATION_LEAD) not in already and (earliest is None or escalation_at < earliest):
            earliest = escalation_at
        if earliest is not None:
            kept = found.get(row.application_id)
            if kept is None or earliest < kept:
                found[row.application_id] = earliest
    return found


def _moments(expires_on: date, app_tz: str, recipient_tz: str | None, leads: tuple[int, ...]
             ) -> tuple[tuple[tuple[int, datetime], ...], datetime, datetime, datetime]:
    """When each lead time falls due (09:00 recipient-local, counted back from their last
    reminder day), the last reminder day's 09:00 (where snoozes end at the latest), the
    flip's and the escalation's moments (09:00 application time)."""
    app_zone = recipient_zone(None, app_tz)
    zone = recipient_zone(recipient_tz, app_tz)
    last_day = last_reminder_day(expires_on, app_zone, zone)
    return (tuple((lead, send_moment(last_day - timedelta(days=lead), zone)) for lead in leads),
            send_moment(last_day, zone),
            send_moment(expires_on + timedelta(days=-FLIP_LEAD), app_zone),
            send_moment(expires_on + timedelta(days=-ESCALATION_LEAD), app_zone))


def due_actions(
    evidence: Iterable[TrackedEvidence],
    checklist_items: Mapping[str, Item],
    now: datetime,
    already: set[ReminderKey],
    grace: timedelta = DEFAULT_GRACE,
    checklist_leads: tuple[int, ...] | None = None,
) -> list[Action]:
    """Everything due at ``now`` that ``already`` does not record; one pass, O(n).
    Lead days: see :class:`_Leads`."""
    _require_aware(now)
    clock = _Clock(now, grace)
    leads_of = _Leads(checklist_items, checklist_leads)
    actions: list[Action] = []
    apps = clock.apps
    for row in newest_per_answer(evidence):
        status = row.status
        if status != MET and status != EXPIRED:
            continue
        app = apps.get(row.app_tz) or clock.app(row.app_tz)
        leads = leads_of(row)
        if app.today > row.expires_on:
            _past_expiry(row, leads, app, already, actions)
            continue
        if leads:
            reminder = _reminder(row, leads, clock, app, already)
            if reminder is not None:
                if row.case_study_dates is not None:
                    reminder = _with_case_studies(reminder, row, checklist_items, app.today)
                actions.append(reminder)
    return actions


def _past_expiry(
    row: TrackedEvidence, leads: tuple[int, ...], app: _Local, already: set[ReminderKey], actions: list[Action]
) -> None:
    """The flip on the day after expiry, then one escalation a week later. Lead times
    never recorded (the clock was down) go on record as skipped with the flip."""
    evidence_id = row.evidence_id
    days_expired = (app.today - row.expires_on).days
    # The flip tells the channel, so it waits for 09:00 too (readers see the expiry from
    # midnight anyway: flows.application.effective_status).
    flip_due = days_expired > -FLIP_LEAD or app.past_nine
    if flip_due and row.status == MET and (evidence_id, FLIP_LEAD) not in already:
        unsent = tuple(lead for lead in leads if (evidence_id, lead) not in already)
        actions.append(ExpiryFlip(row.application_id, row.item_id, evidence_id, row.expires_on, unsent))
    if days_expired < -ESCALATION_LEAD or (days_expired == -ESCALATION_LEAD and not app.past_nine):
        return
    if (evidence_id, ESCALATION_LEAD) not in already:
        actions.append(Escalation(row.application_id, row.item_id, evidence_id, row.expires_on, days_expired))


def _reminder(
    row: TrackedEvidence,
    leads: tuple[int, ...],
    clock: _Clock,
    app: _Local,
    already: set[ReminderKey],
) -> Reminder | None:
    """The most recent due, unrecorded lead time of one evidence, if still fresh enough.

    Lead time L is due when its day ``expires_on - L`` is before the recipient's today,
    or is today and it is 09:00 or later there: plain day arithmetic, no datetimes.
    """
    local = clock.recipient(row.recipient_tz, row.app_tz)
    expires_on = row.expires_on
    # Lead days count back from the recipient's last day, so that every lead time,
    # "expires today" included, reaches them at 09:00 theirs while the evidence counts.
    last_day = expires_on if local is app else local.last_day(expires_on, app.zone)
    days_to_expiry = (last_day - local.today).days
    if days_to_expiry > leads[0]:
        return None  # the common case: not even the first lead time is due yet
    evidence_id = row.evidence_id
    due: list[int] = []  # largest lead first = oldest first
    for lead in leads:
        if lead < days_to_expiry or (lead == days_to_expiry and not local.past_nine):
            break  # falls due later
        if (evidence_id, lead) not in already:
            due.append(lead)
    if not due:
        return None
    if row.snoozed_until is None:
        lead = due[-1]
        after_oldest = (last_day - local.oldest_day).days - lead  # due day - oldest day
        if after_oldest < 0 or (after_oldest == 0 and not local.oldest_by_nine):
            return None
        at = send_moment(last_day - timedelta(days=lead), local.zone)
    else:
        snoozed = _snoozed(row, due, last_day, local.zone, clock.now)
        if snoozed is None:
            return None
        due, at = snoozed
        if at < clock.oldest:
            return None
        lead = due[-1]
    audit = row.target_audit_date
    return Reminder(  # positional and inline: this runs once per due row
        row.application_id,
        row.item_id,
        evidence_id,
        expires_on,
        lead,
        (expires_on - app.today).days,
        at,
        audit is not None and expires_on < audit,  # stale_by_audit(), inlined
        row.assignee,
        tuple(due[:-1]),
    )


def _snoozed(
    row: TrackedEvidence, due: list[int], last_day: date, zone: ZoneInfo, now: datetime
) -> tuple[list[int], datetime] | None:
    """Move due lead times to the snooze end (clamped to the recipient's last reminder
    day); None while it lasts."""
    assert row.snoozed_until is not None
    snooze_end = min(row.snoozed_until, send_moment(last_day, zone))
    still_due: list[int] = []
    latest = snooze_end
    for lead in due:  # effective moments only grow as the lead time shrinks
        at = max(send_moment(last_day - timedelta(days=lead), zone), snooze_end)
        if at > now:
            break
        still_due.append(lead)
        latest = at
    return (still_due, latest) if still_due else None


def _with_case_studies(
    reminder: Reminder, row: TrackedEvidence, checklist_items: Mapping[str, Item], today: date
) -> Reminder:
    """Add "N of 4 valid remain", aged against the row's item window."""
    item = checklist_items.get(row.item_id)
    if item is None or item.max_age is None or row.case_study_dates is None:
        return reminder
    valid = valid_case_study_count(row.case_study_dates, item.max_age, today)
    return replace(reminder, valid_case_studies=valid)
