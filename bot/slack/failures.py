"""When the database cannot store a typed step, the person hears it (or Slack retries).
Called from the app's error handler (``bot/slack/app.py``)."""

from __future__ import annotations

import logging

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.slack.message_kinds import in_direct_message, in_thread, is_typed
from bot.slack.texts import slack_text
from bot.slack.web_api import call
from flows.application import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)
# Slack retries an unacknowledged event three times (at once, after 1 and 5 minutes) and
# numbers the retries in X-Slack-Retry-Num.
LAST_RETRY = 3


def is_typed_step(body: dict) -> bool:
    """A typed message that would be a step of a walk: a reply in a thread, or a DM."""
    event = body.get("event") or {}
    return (body.get("type") == "event_callback" and event.get("type") == "message" and is_typed(event)
            and (in_thread(event) or in_direct_message(event)))


def typed_step_not_stored(body: dict, context: BoltContext, client: WebClient,
                          request: BoltRequest) -> BoltResponse | None:
    """The database could not store a typed step. Before the acknowledgement and while
    Slack will retry, the answer is 503 and Slack delivers the event again (nothing was
    claimed: the claim is rolled back with the step, or never made). On Slack's last try,
    or when Bolt had already acknowledged the event (a failure after the claim), the
    person is told in place that the words were not saved and should be sent again."""
    retry = request.headers.get("x-slack-retry-num", ["0"])[0]
    acknowledged = context.ack is not None and context.ack.response is not None
    if not acknowledged and retry.isdigit() and int(retry) < LAST_RETRY:
        log.warning("a typed step could not be stored; Slack will retry it (try %s)", retry)
        return BoltResponse(status=503, body="")
    event = body["event"]
    log.warning("a typed step could not be stored; its author is told it was not saved")
    text = slack_text("not_saved", DEFAULT_LANGUAGE)
    if in_direct_message(event):
        told = call(client, "chat_postMessage", channel=event["channel"], text=text)
    else:
        told = call(client, "chat_postEphemeral", channel=event["channel"], user=event.get("user", ""),
                    thread_ts=event.get("thread_ts"), text=text)
    if told is None and not acknowledged:
        return BoltResponse(status=503, body="")  # nobody could be told: let Slack try once more
    return BoltResponse(status=200, body="")
