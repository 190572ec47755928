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

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import SlackSettings
from bot.slack import blocks
from flows.application import ApplicationState
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
    """The one Web API client configuration: base URL override and retries with Retry-After."""
    return WebClient(
        token=token,
        base_url=settings.api_url,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


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
    return _logged(method, lambda: getattr(client, method)(**params).data)


def call_pages(client: WebClient, method: str, key: str, **params) -> list | None:
    """Every page of a paginated Web API method (slack_sdk follows ``next_cursor``): the
    items under ``key``, or None when a page failed."""
    return _logged(method, lambda: [found for page in getattr(client, method)(**params) for found in page.get(key, [])])


def _logged(method: str, run: Callable[[], T]) -> T | None:
    try:
        return run()
    except SlackApiError as error:
        log.warning("slack %s failed: %s", method, error.response.get("error"))
    except Exception as error:  # noqa: BLE001 - a network failure must not lose the stored answer
        log.warning("slack %s failed: %s", method, type(error).__name__)
    return None


def open_dm(client: WebClient, user: str) -> str:
    """The DM channel with ``user`` (its user id when Slack cannot open one: chat.postMessage
    accepts a user id too)."""
    opened = call(client, "conversations_open", users=user)
    return (opened or {}).get("channel", {}).get("id", user)


def post_item(db: Database, client: WebClient, team_id: str, channel: str, state: ApplicationState,
              item_id: str | None, thread_ts: str | None = None, intro: str = "") -> None:
    """Post an item's message (after ``intro``, if any) and remember it, so that replies in
    its thread reach that item. Without an item, only the intro is posted."""
    checklist = get_checklist(state.checklist_id)
    item = checklist.item(item_id) if item_id else None
    if item is None:
        if intro:
            call(client, "chat_postMessage", channel=channel, text=intro, thread_ts=thread_ts)
        return
    item_blocks = blocks.item_blocks(checklist, state, item)
    if intro:
        item_blocks = [blocks.section(chunk) for chunk in blocks.fold(intro)] + item_blocks
    posted = call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts,
                  text=f"{item.id} {item.title(state.language)}", blocks=item_blocks[: blocks.MESSAGE_BLOCKS])
    if posted and posted.get("ts") and not thread_ts:
        slack_store.remember_item_message(db, team_id, posted.get("channel", channel), posted["ts"], state.id, item.id)


def update_item(client: WebClient, channel: str, ts: str, state: ApplicationState, item_id: str) -> None:
    """Show an item's message again with its current answer."""
    checklist = get_checklist(state.checklist_id)
    item = checklist.item(item_id)
    if item is not None:
        call(client, "chat_update", channel=channel, ts=ts, text=f"{item.id} {item.title(state.language)}",
             blocks=blocks.item_blocks(checklist, state, item))


def sync_members(db: Database, client: WebClient, team_id: str, channel: str) -> None:
    """Store a channel's members; a failed read stores nothing."""
    members = call_pages(client, "conversations_members", "members", channel=channel, limit=500)
    if members is not None:
        slack_store.replace_members(db, team_id, channel, members, now())
