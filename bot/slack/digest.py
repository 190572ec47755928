"""PDM digests in Slack: Block Kit messages and posting them, on schedule (the clock)
or at once (``competency-bot digest --post``). ``/competency pdm`` and ``digest`` are in
``bot/slack/listeners/commands/digest.py``.

A digest is one parent message (the summary) and one threaded reply per application.
Each text is folded into sections at line boundaries (one line per gap, expiring
evidence or change, so no item is ever cut), and sections are grouped at most
``MESSAGE_BLOCKS`` to a message: an application too long for one message continues
in the next reply of the same thread.

``/competency digest`` sends the digest of every PDM channel the person is in to a DM
with them, not as ephemeral messages: ephemeral messages cannot have threads and vanish
on reload, and a PDM reads the digest later. It does not count as the channel's
digest: "what changed" still runs from the last one posted to the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient

from bot.config import DigestSettings, SlackSettings
from bot.digest import SharedLines, build_digests, cycle_collection_paused, digest_text, pdm_channels
from bot.render import render
from bot.slack import blocks
from bot.slack.web_api import call, client_factory
from flows.digest import ChannelDigest, DigestChannel, digest_key, latest_slot
from storage import digests
from storage.db import Database

# A scheduled digest more than this late (the clock was down) waits for the next slot.
DUE_WITHIN = timedelta(days=1)


def messages(text: str) -> list[dict]:
    """``chat.postMessage`` arguments for one text: sections within Slack's limits."""
    sections = [blocks.section(chunk) for chunk in blocks.fold(text)]
    fallback = text.split("\n", 1)[0]
    return [{"text": fallback, "blocks": sections[start:start + blocks.MESSAGE_BLOCKS]}
            for start in range(0, len(sections), blocks.MESSAGE_BLOCKS)]


def digest_messages(digest: ChannelDigest, shared: SharedLines | None = None) -> tuple[dict, list[dict]]:
    """The parent message, and the replies for its thread (``shared``: as in :func:`bot.digest.digest_text`)."""
    summary, applications = digest_text(digest, "slack", shared)
    parent = messages(summary)
    return parent[0], parent[1:] + [message for text in applications for message in messages(text)]


def run_messages(db: Database, channels: list[DigestChannel], settings: DigestSettings,
                 now: datetime) -> list[tuple[dict, list[dict]]]:
    """Each listed channel's messages (:func:`digest_messages`), built and rendered in one
    run: the channels share their rendered lines, and Python's cycle collector stays
    paused until the digests are gone (see :func:`bot.digest.cycle_collection_paused`):
    resumed between channels, it walked every object of every digest again. Only the
    messages stay alive while they are posted."""
    with cycle_collection_paused():
        shared = SharedLines()
        return [digest_messages(digest, shared) for digest in build_digests(db, channels, settings, now)]


def post_digest(client: WebClient, channel_id: str, digest: tuple[dict, list[dict]]) -> str | None:
    """Post the parent, then the replies in its thread (``digest``: :func:`digest_messages`);
    the parent's ts, or None if it failed.

    A reply that still fails after the client's retries is logged (by ``call``) and the
    others are posted: the parent is never posted twice.
    """
    parent, replies = digest
    posted = call(client, "chat_postMessage", channel=channel_id, **parent)
    if not posted or not posted.get("ts"):
        return None
    where = posted.get("channel") or channel_id
    for reply in replies:
        call(client, "chat_postMessage", channel=where, thread_ts=posted["ts"], **reply)
    return posted["ts"]


@dataclass(frozen=True)
class Posted:
    channel_id: str
    key: str
    ts: str | None  # None: the post failed and is retried at the next call


def post_due_digests(db: Database, client_for: Callable[[str], WebClient | None], now: datetime, *,
                     settings: DigestSettings | None = None,
                     channel_ids: list[str] | None = None,
                     due_within: timedelta | None = DUE_WITHIN) -> list[Posted]:
    """Post every channel's digest whose schedule slot has come and is not posted yet.

    Safe to call every few minutes from any number of processes: each (channel, slot)
    key is claimed in ``digest_log`` before posting, so it posts once; a failed post is
    claimed again by the next call. ``due_within=None`` posts the current slot's digest
    however late (``digest --post``). ``client_for`` gives each workspace's Web API client.
    """
    settings = settings or DigestSettings.from_env()
    claimed = []
    for channel in pdm_channels(db, settings, channel_ids):
        slot = latest_slot(now, channel)
        if due_within is not None and now - slot > due_within:
            continue
        key = digest_key(channel, slot)
        if digests.claim(db, key, channel, now):
            claimed.append((channel, key))
    if not claimed:
        return []
    results = []
    built = run_messages(db, [channel for channel, _ in claimed], settings, now)
    for digest, (channel, key) in zip(built, claimed, strict=True):
        client = client_for(channel.team_id)
        ts = post_digest(client, channel.channel_id, digest) if client is not None else None
        if ts:
            digests.mark_posted(db, key, ts, now)
        else:
            digests.mark_failed(db, key)
        results.append(Posted(channel.channel_id, key, ts))
    return results


def post_digests_now(db: Database, channels: list[DigestChannel], settings: DigestSettings, now: datetime) -> int:
    """``digest --post``: this period's digest to each channel that has not had it; 1 if a post failed."""
    slack = SlackSettings.from_env("digest")
    results = post_due_digests(db, client_factory(slack, db), now, settings=settings,
                               channel_ids=[channel.channel_id for channel in channels], due_within=None)
    for result in results:
        print(render("cli.j2", "digest_posted", "en", channel=result.channel_id, ts=result.ts))
    if not results:
        print(render("cli.j2", "digest_nothing_to_post", "en"))
    return 0 if all(result.ts for result in results) else 1
