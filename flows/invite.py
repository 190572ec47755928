"""A planned drill as an iCalendar invite (RFC 5545), built with ``icalendar``.

Pure data: bytes out, no file or network. The event's summary is the item's id and
title, its description the checklist's requirement (and the attendees' names, composed
by the adapter), and an alarm goes off one day before. A timed plan is written in its
time zone: ``DTSTART;TZID=…`` with the zone's ``VTIMEZONE`` (UTC as ``…Z``); a plan
without a time is a whole-day event (``VALUE=DATE``). No ``ATTENDEE`` lines: RFC 5545
wants a calendar address for each, and the bot does not ask Slack for emails
(``users:read.email``), so the attendees are named in the description instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flows.checklist import Item
from flows.drills import DrillPlan
from flows.evidence import zone
from flows.export import safe_name

PRODUCT = "-//competency-bot//drill plans//EN"
DRILL_LENGTH = timedelta(hours=1)
ALARM_BEFORE = timedelta(days=1)


def drill_invite(plan: DrillPlan, item: Item, language: str, description: str, uid: str, now: datetime) -> bytes:
    """The ``.ics`` of one plan; ``uid`` stays the same for a plan, so a calendar that
    imports it twice keeps one event."""
    # Imported here: icalendar's 90 modules would otherwise sit in every web process
    # that never plans a drill.
    from icalendar import Alarm, Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    summary = f"{item.id} {item.title(language)}"
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(zone("UTC")))
    if plan.at is None:
        event.add("dtstart", plan.day)
        event.add("dtend", plan.day + timedelta(days=1))
    else:
        starts = plan.starts()
        event.add("dtstart", starts)
        event.add("dtend", starts + DRILL_LENGTH)
    event.add("summary", summary)
    event.add("description", description)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()  # a VTIMEZONE for every TZID used (none for UTC)
    return calendar.to_ical()


def invite_filename(partner: str, item: Item, plan: DrillPlan) -> str:
    """``drill-Acme-Retail-T1.24-2027-01-12.ics``: one plain name in any folder."""
    return f"drill-{safe_name(partner)}-{item.id}-{plan.day.isoformat()}.ics"
