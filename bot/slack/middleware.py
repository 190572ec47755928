"""Bolt middleware: what every listener needs, written once.

- :class:`CleanText` (global, first) cleans every string of the request body
  (:func:`flows.text.clean`) before any listener or other middleware reads it.
- :class:`ProvideServices` (global) puts the database and the digest settings into the
  context; Bolt passes context keys to listeners as arguments (``db``, ``digests``).
- :class:`ChannelApplication` (slash commands) puts the channel's application, its
  language and the subcommand's argument into the context.
- :class:`MembersOnly` (every listener that changes an application) finds the application
  a request names and refuses anyone who is not a member of its channel, in its own
  workspace; it puts the application's ``state`` (and the ``membership`` it was read
  with) into the context. An answer button's press leaves the check to its write when
  this process knows the application (``presume_known``). The refusal reaches the person
  where they are: an error in the form, the slash command's answer, the action's
  ``response_url`` (which reaches people previewing a channel, unlike
  ``chat.postEphemeral``), or an ephemeral reply in an item's thread.
- :class:`OncePerEvent` (events) handles each event id once, across processes.

Each is Bolt's class-based :class:`~slack_bolt.middleware.Middleware`, given the request
itself: for a function, Bolt builds every argument a middleware could ask for (``say``,
``respond``, the payload's parts…) on each call, a tenth of a millisecond per middleware
on every press.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from slack_bolt import Ack, BoltContext, BoltRequest, BoltResponse, Respond
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.config import DigestSettings
from bot.slack import blocks
from bot.slack.client import as_slack_client
from bot.slack.texts import slack_text
from bot.slack.web_api import call, now, sync_members
from flows.application import DEFAULT_LANGUAGE
from flows.commands import parse_subcommand
from flows.text import clean_all
from storage import slack as slack_store
from storage import walks
from storage.db import Database
from storage.errors import ApplicationNotFound

# How long a channel's members, as last read, are trusted for a refusal.
MEMBERS_FRESH = timedelta(minutes=10)
# Finds the id of the application a request names (None: the request names none).
Locator = Callable[[dict, BoltContext], "int | None"]


class CleanText(Middleware):
    """The Slack adapter's way in: every text of the request, whatever its kind (command,
    form, button value, message), is cleaned in place, once, after Bolt has verified the
    signature of the raw body."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        clean_all(req.body)
        return next()


class ProvideServices(Middleware):
    def __init__(self, db: Database, digests: DigestSettings):
        self.db, self.digests = db, digests

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        context = req.context
        context["db"] = self.db
        context["digests"] = self.digests
        context["client"] = as_slack_client(context.client)  # posts that appear once (bot.slack.client)
        return next()


class ChannelApplication(Middleware):
    """The channel's application (``state``, or None), ``language`` and ``argument``; without
    an application, a subcommand that ``needs_application`` is answered here."""

    def __init__(self, *, needs_application: bool = True):
        self.needs_application = needs_application

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        context, body = req.context, req.body
        found = walks.in_channel(context["db"], context.team_id or "", body["channel_id"])
        state = found[0] if found else None
        context["state"] = state
        context["language"] = state.language if state else DEFAULT_LANGUAGE
        context["argument"] = parse_subcommand(body.get("text") or "")[1]
        if state is None and self.needs_application:
            return context.ack(slack_text("no_application", context["language"]))
        return next()


class MembersOnly(Middleware):
    """Let the request through only when its user is a member of the named application's
    channel; puts ``application_id`` and ``membership`` into the context.

    ``presume_known``: for a press whose write checks the membership itself
    (:func:`storage.walks.answer_from_slack`). When this process knows the application,
    no statement is sent here: the write confirms what was presumed, in the statement
    that writes; if it does not, the listener calls :func:`admit` and presses again."""

    def __init__(self, locate: Locator, *, presume_known: bool = False):
        self.locate, self.presume_known = locate, presume_known

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        context, body = req.context, req.body
        application_id = self.locate(body, context)
        if application_id is None:
            return context.ack()  # not about an application: nothing to do
        db = context["db"]
        presumed = (slack_store.presumed_membership(db, context.team_id or "", application_id, context.user_id or "")
                    if self.presume_known else None)
        if presumed is not None:
            _let_in(context, presumed)
            return next()
        refusal = admit(context.ack, body, context, db, context.respond, context.client, application_id)
        return next() if refusal is None else refusal


def admit(ack: Ack, body: dict, context: BoltContext, db: Database, respond: Respond, client: WebClient,
          application_id: int) -> BoltResponse | None:
    """Check that the request's user is a member of the application's channel: None, with
    the membership in the context, if so; else the refusal, already sent."""
    membership = slack_store.membership(db, context.team_id or "", application_id, context.user_id or "")
    if membership is None:
        raise ApplicationNotFound(application_id)  # a forged or outdated id: dropped by the error handler
    if not membership.may_change and _stale(membership):
        # Before refusing, read the channel again: a join event may have been missed.
        sync_members(db, client, context.team_id or "", membership.channel_id)
        membership = slack_store.membership(db, context.team_id or "", application_id, context.user_id or "")
    if not membership.may_change:
        return _refuse(ack, body, respond, client, context, slack_text("not_member", membership.language))
    _let_in(context, membership)
    return None


def _let_in(context: BoltContext, membership: slack_store.Membership) -> None:
    context["application_id"] = membership.application_id
    context["application_channel"] = membership.channel_id
    context["language"] = membership.language
    # The state as the check read it; an answer writes on it unless it changed since.
    context["state"], context["membership"] = membership.state, membership


def _stale(membership: slack_store.Membership) -> bool:
    return membership.synced_at is None or now() - membership.synced_at > MEMBERS_FRESH


def _refuse(ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext,
            text: str) -> BoltResponse:
    # A refusal is rare: it is sent before the acknowledgement returns, well within 3 s.
    if body.get("type") == "view_submission":
        first_field = next(iter(body["view"]["state"]["values"]), "")
        return ack(response_action="errors", errors={first_field: text})
    if "command" in body:
        return ack(text)
    response = ack()
    if body.get("response_url"):
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 - the refusal changes nothing; a failure to send it is only logged
            context.logger.warning("could not send a refusal to the response_url")
        return response
    event = body.get("event") or {}
    call(client, "chat_postEphemeral", channel=event.get("channel", ""), user=context.user_id,
         thread_ts=event.get("thread_ts"), text=text)
    return response


# -- where each kind of request names its application ----------------------------------


def of_channel(body: dict, context: BoltContext) -> int | None:
    """A slash command: the channel's application (after :class:`ChannelApplication`)."""
    state = context.get("state")
    return state.id if state else None


def of_button(body: dict, context: BoltContext) -> int:
    """A button whose value is ``application|target``."""
    return blocks.parse_item_value(body["actions"][0]["value"])[0]


def of_block(body: dict, context: BoltContext) -> int:
    """An element whose block id is ``kind:application|target`` (a select has no value)."""
    return blocks.parse_item_value(body["actions"][0]["block_id"].partition(":")[2])[0]


def of_json_button(body: dict, context: BoltContext) -> int:
    """A button whose value is JSON with the application under ``a``."""
    return int(json.loads(body["actions"][0]["value"])["a"])


def of_view(body: dict, context: BoltContext) -> int:
    """A form whose private metadata names the application under ``a``."""
    return int(blocks.view_metadata(body["view"])["a"])


def of_item_thread(body: dict, context: BoltContext) -> int | None:
    """A reply in the thread of an item's message; puts ``item_message`` into the context."""
    event = body["event"]
    found = slack_store.item_message(context["db"], context.team_id or "", event["channel"], event["thread_ts"])
    context["item_message"] = found
    return found.application_id if found else None


class OncePerEvent(Middleware):
    """Slack retries an event it thinks was lost: each event id is handled once, across
    processes (claimed in the database)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]):  # noqa: A002
        if slack_store.first_delivery(req.context["db"], f"event:{req.body.get('event_id')}", now()):
            return next()
        return BoltResponse(status=200, body="")
