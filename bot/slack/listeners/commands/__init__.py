"""``/competency WORD …``: one slash command, one listener per subcommand.

Each domain module registers its subcommands with :func:`subcommand` as their matcher
(the words come from :mod:`flows.commands`, in both languages); the text too long to
read is answered first and an unknown word last.
"""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.render import render
from bot.slack.listeners.commands import case_studies, digest, reminders, sign_off, walk
from bot.slack.listeners.commands.routing import COMMAND, too_long
from bot.slack.middleware import ChannelApplication
from bot.slack.texts import slack_text
from flows.application import MAX_TEXT


def register(app: App) -> None:
    app.command(COMMAND, matchers=[too_long], middleware=[ChannelApplication(needs_application=False)])(
        refuse_too_long)
    for domain in (walk, case_studies, digest, reminders, sign_off):
        domain.register(app)
    app.command(COMMAND, middleware=[ChannelApplication(needs_application=False)])(unknown_subcommand)


def refuse_too_long(ack: Ack, body: dict, language: str) -> None:
    text = (body.get("text") or "").strip()
    ack(render("walk.j2", "too_long", language, limit=MAX_TEXT, length=len(text)))


def unknown_subcommand(ack: Ack, body: dict, language: str) -> None:
    ack(slack_text("unknown_command", language, text=(body.get("text") or "").strip()))
