"""Reminders in Slack: the notifier the reminder pass sends through, and the reminder
message with its buttons (record new evidence, snooze, assign; their listeners are in
``bot/slack/listeners/actions/reminders.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient

from bot.drills import DrillQuestion
from bot.reminders import Notice
from bot.render import render
from bot.slack import blocks
from bot.slack.case_studies import EDIT_ACTION
from bot.slack.client import LONGEST_WAIT, RETRIES
from bot.slack.drills import plan_button, question_blocks
from bot.slack.web_api import call, call_pages
from flows.drills import plannable
from storage import reminders as store
from storage import slack as slack_store
from storage.db import Database
from storage.reminders import ApplicationTarget

log = logging.getLogger(__name__)
METADATA_EVENT = "competency_reminder"
# A send is at most three Web API calls (conversations.open for a DM, chat.postMessage, and
# conversations.history before a post is repeated), each tried at most RETRIES + 1 times,
# each try bounded by the client's timeout, with at most LONGEST_WAIT seconds (plus a
# second of jitter) between tries (bot.slack.client). The reminder pass's claim lease
# (bot.reminders.STALE_CLAIM) must outlast the sum: a send still under way is then never
# taken for an interrupted one and sent again.
CALLS_PER_SEND = 3


def say(macro: str, language: str, **params) -> str:
    return render("reminders.j2", macro, language, style="slack", **params)


def reminder_blocks(notice: Notice) -> list[dict]:
    action, application, item = notice.action, notice.application, notice.item
    language = application.language
    case_study = notice.kind == store.CASE_STUDY
    text = say("reminder", language, item=item, evidence_text=notice.evidence_text,
                evidence_date=notice.evidence_date, expires_on=action.expires_on, days_left=action.days_left,
                stale_by_audit=action.stale_by_audit, audit_date=application.target_audit_date,
                valid_case_studies=action.valid_case_studies, case_study=case_study)
    if case_study:
        # A case study is renewed by editing it; snoozes are kept on the case study itself.
        target = f"{application.id}|{action.evidence_id}"
        record = {"type": "button", "action_id": EDIT_ACTION, "value": target, "style": "primary",
                  "text": blocks.plain(say("button", language, name="edit_case_study"))}
        snooze_value = f"{application.id}|{store.CASE_STUDY}{action.evidence_id}"
        planning = []
        extra = []
    else:
        target = blocks.item_value(application.id, item.id)
        record = {"type": "button", "action_id": "walk_evidence", "value": target, "style": "primary",
                  "text": blocks.plain(say("button", language, name="record"))}
        snooze_value = target
        extra = [{"type": "users_select", "action_id": "reminder_assign",
                  "placeholder": blocks.plain(say("button", language, name="assign"))}]
        # A drill or a dated assessment can be planned, not only renewed.
        planning = [plan_button(application.id, item, language)] if plannable(item) else []
    requirement = blocks.fold(say("requirement", language, item=item))
    return (
        [blocks.section(chunk) for chunk in blocks.fold(text)]
        + [{"type": "context", "elements": [{"type": "mrkdwn", "text": chunk}]} for chunk in requirement]
        + [{
            "type": "actions", "block_id": f"reminder:{snooze_value}",
            "elements": [
                record,
                *planning,
                {"type": "button", "action_id": "reminder_snooze_day", "value": snooze_value,
                 "text": blocks.plain(say("button", language, name="snooze_day"))},
                {"type": "button", "action_id": "reminder_snooze_week", "value": snooze_value,
                 "text": blocks.plain(say("button", language, name="snooze_week"))},
                *extra,
            ],
        }]
    )[: blocks.MESSAGE_BLOCKS]


class SlackNotifier:
    """Sends what the reminder pass decides, through one Web API client per workspace."""

    def __init__(self, client_for: Callable[[str], WebClient | None]):
        self.client_for = client_for

    def longest_send(self, team_id: str) -> timedelta:
        """The longest one send can take with this workspace's client, every retry included:
        slack_sdk counts tries across its handlers (RETRIES + 1 in all), and no wait between
        two is longer than a capped Retry-After with its jitter (the 5xx and connection
        backoffs, 0.5 × 2ⁿ s plus jitter, are shorter)."""
        client = self.client_for(team_id)
        timeout = client.timeout if client is not None else 0
        return timedelta(seconds=CALLS_PER_SEND * ((RETRIES + 1) * timeout + RETRIES * (LONGEST_WAIT + 1)))

    def prepare(self, db: Database, now: datetime) -> None:
        """Learn assignees' time zones (users.info) so reminders arrive at 09:00 theirs."""
        for team_id, user_id in store.assignees_without_timezone(db):
            client = self.client_for(team_id)
            found = call(client, "users_info", user=user_id) if client else None
            if found:
                store.remember_timezone(db, team_id, user_id, (found.get("user") or {}).get("tz") or "", now)

    def _post(self, team_id: str, channel: str, key: str, text: str, message_blocks: list[dict] | None = None,
              thread_ts: str | None = None) -> bool:
        client = self.client_for(team_id)
        if client is None or not channel:
            return False
        # The key travels as message metadata, so an interrupted pass can ask Slack later. A
        # thread reply is also sent to the channel: conversations.history, where the client
        # and was_sent look for the key, shows a thread reply only then.
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        threaded = {"thread_ts": thread_ts, "reply_broadcast": True} if thread_ts else {}
        return call(client, "chat_postMessage", channel=channel, text=text, blocks=message_blocks,
                    metadata=metadata, **threaded) is not None

    def _channel(self, application: ApplicationTarget, recipient: str) -> str | None:
        if not recipient:
            return application.channel_id
        opened = call(self.client_for(application.team_id), "conversations_open", users=recipient)
        return opened["channel"]["id"] if opened else None

    def was_sent(self, application: ApplicationTarget, recipient: str, key: str, since: datetime) -> bool | None:
        """Is there a message carrying ``key`` since ``since``? None when Slack can't say."""
        client = self.client_for(application.team_id)
        channel = self._channel(application, recipient) if client else None
        if channel is None:
            return None
        # Every page since the claim (slack_sdk follows the cursor): the channel may have
        # had more messages since than one page holds.
        messages = call_pages(client, "conversations_history", "messages", channel=channel,
                              oldest=f"{since.timestamp() - 60:.6f}", include_all_metadata=True, limit=200)
        if messages is None:
            return None
        return any(((m.get("metadata") or {}).get("event_payload") or {}).get("key") == key for m in messages)

    def remind(self, notice: Notice) -> bool:
        application, action = notice.application, notice.action
        channel = self._channel(application, action.recipient)
        if channel is None:
            return False
        text = f"{notice.item.id} {notice.item.title(application.language)}"
        return self._post(application.team_id, channel, notice.key, text, reminder_blocks(notice))

    def expired(self, notice: Notice) -> bool:
        application = notice.application
        if notice.kind == store.CASE_STUDY:
            text = say("case_study_expired", application.language, customer=notice.evidence_text,
                        expires_on=notice.action.expires_on, valid_case_studies=notice.valid_case_studies)
        else:
            text = say("expired", application.language, item=notice.item, expires_on=notice.action.expires_on,
                       voided_by=notice.voided_sign_off_by)
        return self._post(application.team_id, application.channel_id, notice.key, text)

    def ask_drill(self, db: Database, question: DrillQuestion) -> bool:
        """Whether the planned drill happened: asked in the item's thread, also sent to the
        channel (the channel alone when the item has no message there), with the button
        that records its evidence."""
        shown = slack_store.newest_item_message(db, question.team_id, question.channel_id, question.state.id,
                                                question.item.id)
        text = f"{question.item.id} {question.item.title(question.state.language)}"
        return self._post(question.team_id, question.channel_id, question.key, text, question_blocks(question),
                          thread_ts=shown.ts if shown else None)

    def escalate(self, notice: Notice, channel: str) -> bool:
        application, action = notice.application, notice.action
        text = say("escalation", application.language, partner=application.partner_name, item=notice.item,
                    expires_on=action.expires_on, days_expired=action.days_expired)
        return self._post(application.team_id, channel, notice.key, text)
