"""``/competency pdm #channel`` (where this application's digest goes) and
``/competency digest`` (the digests of the person's PDM channels, sent to a DM with them).

The digest comes by DM, not as ephemeral messages: those cannot have threads and vanish
on reload, and a PDM reads the digest later. It does not count as the channel's digest:
"what changed" still runs from the last one posted to the channel.
"""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.config import DigestSettings
from bot.digest import pdm_channels
from bot.render import render
from bot.slack.digest import post_digest, run_messages
from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.web_api import now, open_dm, sync_members
from flows.application import ApplicationState
from storage import digests as digest_store
from storage import slack as slack_store
from storage.db import Database

CHANNEL_REFERENCE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")


def register(app: App) -> None:
    add_subcommand(app, "pdm", set_pdm_channel)
    add_subcommand(app, "digest", send_digests_by_dm, needs_application=False, members_only=False)


def say(macro: str, language: str, **params) -> str:
    return render("digest.j2", macro, language, style="slack", **params)


def set_pdm_channel(ack: Ack, client: WebClient, context: BoltContext, db: Database, digests: DigestSettings,
                    state: ApplicationState, argument: str, language: str) -> None:
    found = CHANNEL_REFERENCE.search(argument)
    if found is None:
        ack(say("pdm_usage", language, current=state.pdm_channel or digests.pdm_channel))
        return
    named = digests.new_channel(context.team_id, found.group(1), state.language)
    channel = digest_store.set_pdm_channel(db, state.id, named, context.user_id, now())
    ack(say("pdm_set", language, partner=state.partner, channel=channel))
    # Membership of the PDM channel tells /competency digest who its PDMs are.
    sync_members(db, client, context.team_id, channel.channel_id)


def send_digests_by_dm(ack: Ack, body: dict, client: WebClient, context: BoltContext, db: Database,
                       digests: DigestSettings, language: str) -> None:
    mine = set(slack_store.channels_of(db, context.team_id, context.user_id)) | {body["channel_id"]}
    channels = [channel for channel in pdm_channels(db, digests) if channel.channel_id in mine]
    if not channels:
        ack(say("not_pdm", language))
        return
    ack(say("digest_sent", channels[0].language, channels=[c.channel_id for c in channels]))
    dm = open_dm(client, context.user_id)
    for digest in run_messages(db, channels, digests, now()):
        post_digest(client, dm, digest)
