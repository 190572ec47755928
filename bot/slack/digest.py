"""PDM digests in Slack: Block Kit messages, the scheduled post, /competency pdm and digest.

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

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_bolt import App
from slack_sdk import WebClient

from bot.digest import DigestSettings, build_digests, digest_text, pdm_channels
from bot.render import render
from bot.slack import blocks
from bot.slack.commands import CommandRequest, CommandRouter
from bot.slack.walk import WalkService, call, now
from flows.digest import ChannelDigest, digest_key, latest_slot
from storage import digests
from storage import slack as slack_store
from storage.db import Database

CHANNEL_REFERENCE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")
# A scheduled digest more than this late (the clock was down) waits for the next slot.
DUE_WITHIN = timedelta(days=1)


def messages(text: str) -> list[dict]:
    """``chat.postMessage`` arguments for one text: sections within Slack's limits."""
    sections = [blocks.section(chunk) for chunk in blocks.fold(text)]
    fallback = text.split("\n", 1)[0]
    return [{"text": fallback, "blocks": sections[start:start + blocks.MESSAGE_BLOCKS]}
            for start in range(0, len(sections), blocks.MESSAGE_BLOCKS)]


def digest_messages(digest: ChannelDigest) -> tuple[dict, list[dict]]:
    """The parent message, and the replies for its thread."""
    summary, applications = digest_text(digest, "slack")
    parent = messages(summary)
    return parent[0], parent[1:] + [message for text in applications for message in messages(text)]


def post_digest(client: WebClient, channel_id: str, digest: ChannelDigest) -> str | None:
    """Post the parent, then the replies in its thread; the parent's ts, or None if it failed.

    A reply that still fails after the client's retries is logged (by ``call``) and the
    others are posted: the parent is never posted twice.
    """
    parent, replies = digest_messages(digest)
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
    built = build_digests(db, [channel for channel, _ in claimed], settings, now)
    for digest, (channel, key) in zip(built, claimed):
        client = client_for(channel.team_id)
        ts = post_digest(client, channel.channel_id, digest) if client is not None else None
        if ts:
            digests.mark_posted(db, key, ts, now)
        else:
            digests.mark_failed(db, key)
        results.append(Posted(channel.channel_id, key, ts))
    return results


def say(macro: str, language: str, **params) -> str:
    return render("digest.j2", macro, language, style="slack", **params)


def register(app: App, db: Database, router: CommandRouter) -> None:
    settings = DigestSettings.from_env()
    service = WalkService(db)

    def pdm_command(request: CommandRequest) -> None:
        found = CHANNEL_REFERENCE.search(request.rest)
        if found is None:
            request.ack(say("pdm_usage", request.language,
                            current=request.state.pdm_channel or settings.pdm_channel))
            return
        named = settings.new_channel(request.team_id, found.group(1), request.state.language)
        channel = digests.set_pdm_channel(db, request.state.id, named,
                                          request.user, now())
        request.ack(say("pdm_set", request.language, partner=request.state.partner, channel=channel))
        # Membership of the PDM channel tells /competency digest who its PDMs are.
        service.sync_members(request.client, request.team_id, channel.channel_id)

    def digest_command(request: CommandRequest) -> None:
        mine = set(slack_store.channels_of(db, request.team_id, request.user)) | {request.channel}
        channels = [channel for channel in pdm_channels(db, settings) if channel.channel_id in mine]
        if not channels:
            request.ack(say("not_pdm", request.language))
            return
        request.ack(say("digest_sent", channels[0].language, channels=[c.channel_id for c in channels]))
        opened = call(request.client, "conversations_open", users=request.user)
        dm = (opened or {}).get("channel", {}).get("id", request.user)
        for digest in build_digests(db, channels, settings, now()):
            post_digest(request.client, dm, digest)

    router.add(("pdm",), pdm_command)
    router.add(("digest", "摘要"), digest_command, needs_application=False, members_only=False)
