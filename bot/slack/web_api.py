"""The Web API as every Slack domain uses it: one client configuration, the call made
after the acknowledgement, posting an item, opening a DM, and the clock.

Listeners store first, call ``ack()`` (Bolt answers Slack then), and only then call
the Web API through :func:`call`, so a failing Slack never undoes a stored answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import SlackSettings
from bot.slack import blocks
from bot.slack.client import SlackClient, retry_handlers
from bot.slack.texts import slack_text
from flows.application import DEFAULT_LANGUAGE, ApplicationState
from flows.checklist import get_checklist
from storage import slack as slack_store
from storage.db import Database
from storage.installations import EncryptedInstallationStore, TokenCipher

log = logging.getLogger(__name__)
T = TypeVar("T")


def now() -> datetime:
    """The moment a request is handled; the engine and storage take it as an argument."""
    return datetime.now(timezone.utc)


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """The one Web API client configuration: the base URL (tests, proxies) and the retries
    of :mod:`bot.slack.client`."""
    return SlackClient(token=token, base_url=settings.api_url, timeout=10, retry_handlers=retry_handlers())


def client_factory(settings: SlackSettings, db: Database) -> Callable[[str], WebClient | None]:
    """A function team id → Web API client with that workspace's bot token (or None),
    for the processes that talk to Slack without an incoming request (clock, remind)."""
    if not settings.oauth:
        client = web_client(settings, settings.bot_token)
        return lambda team_id: client
    store = EncryptedInstallationStore(settings.client_id, db, TokenCipher(settings.token_keys))

    def for_team(team_id: str) -> WebClient | None:
        bot = store.find_bot(enterprise_id=None, team_id=team_id)
        return web_client(settings, bot.bot_token) if bot else None

    return for_team


def call(client: WebClient, method: str, **params) -> dict | None:
    """A Web API call after the acknowledgement: failures are logged, never raised to Slack."""
    return attempt(method, lambda: getattr(client, method)(**params).data)[0]


def call_or_tell(respond: Respond, language: str, client: WebClient, method: str, **params) -> dict | None:
    """A Web API call a person asked for: if Slack refuses it, they are told why (through
    the request's response_url, which reaches them wherever they are)."""
    result, error = attempt(method, lambda: getattr(client, method)(**params).data)
    if error is not None:
        tell(respond, slack_text("slack_refused", language, error=error))
    return result


def post_or_tell(client: WebClient, user: str, language: str, **params) -> None:
    """A post after a form was submitted (the form is closed by then): if Slack refuses it,
    the person who submitted is told, in the channel, in a message only they see."""
    tell_user_if_refused(client, params["channel"], user, language,
                         attempt("chat_postMessage", lambda: client.chat_postMessage(**params).data)[1])


def tell_user_if_refused(client: WebClient, channel: str, user: str, language: str, error: str | None) -> None:
    if error is not None:
        call(client, "chat_postEphemeral", channel=channel, user=user,
             text=slack_text("slack_refused", language, error=error))


def call_pages(client: WebClient, method: str, key: str, **params) -> list | None:
    """Every page of a paginated Web API method (slack_sdk follows ``next_cursor``): the
    items under ``key``, or None when a page failed."""

    def every_page() -> list:
        return [found for page in getattr(client, method)(**params) for found in page.get(key, [])]

    return attempt(method, every_page)[0]


def attempt(method: str, run: Callable[[], T]) -> tuple[T | None, str | None]:
    """(what ``run`` returned, None), or (None, Slack's error code): logged, never raised."""
    try:
        return run(), None
    except SlackApiError as error:
        code = error.response.get("error") or "unknown_error"
    except Exception as error:  # noqa: BLE001 - a network failure must not lose the stored answer
        code = type(error).__name__
    log.warning("slack %s failed: %s", method, code)
    return None, code


def tell(respond: Respond, text: str) -> None:
    """An ephemeral message to the person behind a request, through its response_url."""
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as error:  # noqa: BLE001 - telling is best effort; what was stored stays stored
        log.warning("could not respond: %s", type(error).__name__)


def language_of(client: WebClient, user: str) -> str:
    """The language of a person's Slack locale (``zh-CN`` → zh, any other → en), for what
    the bot says before an application has a language; the default when Slack can't say."""
    found = call(client, "users_info", user=user, include_locale=True)
    locale = ((found or {}).get("user") or {}).get("locale") or ""
    if not locale:
        return DEFAULT_LANGUAGE
    return "zh" if locale.lower().startswith("zh") else "en"


def open_dm(client: WebClient, user: str) -> str:
    """The DM channel with ``user`` (its user id when Slack cannot open one: chat.postMessage
    accepts a user id too)."""
    opened = call(client, "conversations_open", users=user)
    return (opened or {}).get("channel", {}).get("id", user)


def post_item(db: Database, client: WebClient, team_id: str, channel: str, state: ApplicationState,
              item_id: str | None, thread_ts: str | None = None, intro: str = "", shown: str | None = None,
              ) -> str | None:
    """Post an item's message (after ``intro``, if any) and remember it, so that replies in
    its thread reach that item. The application's previous live message in the channel
    loses its answer buttons: one message a channel answers the walk. Without an item,
    only the intro is posted. ``shown``: a message the caller updates itself (the one just
    answered, after this post). Returns Slack's error code when the post failed."""
    checklist = get_checklist(*state.release_key)
    item = checklist.item(item_id) if item_id else None
    if item is None:
        if not intro:
            return None
        return attempt("chat_postMessage", lambda: client.chat_postMessage(channel=channel, text=intro,
                                                                           thread_ts=thread_ts).data)[1]
    item_blocks = blocks.item_blocks(checklist, state, item)
    if intro:
        item_blocks = [blocks.section(chunk) for chunk in blocks.fold(intro)] + item_blocks
    posted, error = attempt("chat_postMessage", lambda: client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=f"{item.id} {item.title(state.language)}",
        blocks=item_blocks[: blocks.MESSAGE_BLOCKS]).data)
    if posted is None or thread_ts:
        return error
    previous = slack_store.remember_item_message(db, team_id, posted.get("channel", channel), posted["ts"],
                                                 state.id, item.id)
    if previous is not None and previous.ts not in (posted["ts"], shown):
        update_item(client, channel, previous.ts, state, previous.item_id, live=False)
    return None


def update_item(client: WebClient, channel: str, ts: str, state: ApplicationState, item_id: str,
                live: bool | None = None) -> None:
    """Show an item's message again with its current answer; it keeps its answer buttons
    while it shows the walk's current item, unless ``live`` says otherwise."""
    checklist = get_checklist(*state.release_key)
    item = checklist.item(item_id)
    if item is not None:
        call(client, "chat_update", channel=channel, ts=ts, text=f"{item.id} {item.title(state.language)}",
             blocks=blocks.item_blocks(checklist, state, item, item_id == state.cursor if live is None else live))


def sync_members(db: Database, client: WebClient, team_id: str, channel: str) -> list[str] | None:
    """Store a channel's members, read afresh from Slack (None, and nothing stored, when
    the read failed)."""
    members = call_pages(client, "conversations_members", "members", channel=channel, limit=500)
    if members is not None:
        slack_store.replace_members(db, team_id, channel, members, now())
    return members
