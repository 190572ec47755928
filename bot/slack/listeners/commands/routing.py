"""Which ``/competency`` listener a request is for, and what runs before it."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from bot.slack.middleware import ChannelApplication, MembersOnly, of_channel
from flows.application import MAX_TEXT
from flows.commands import parse_subcommand

COMMAND = "/competency"


def subcommand(name: str) -> Callable[[dict], bool]:
    """A Bolt matcher: the command's first word is one of ``name``'s words."""

    def matches(body: dict) -> bool:
        return parse_subcommand(body.get("text") or "")[0] == name

    matches.__name__ = f"subcommand_{name}"
    return matches


def too_long(body: dict) -> bool:
    return len((body.get("text") or "").strip()) > MAX_TEXT


def add_subcommand(app: App, name: str, listener: Callable, *, needs_application: bool = True,
                   members_only: bool = True) -> None:
    """Register ``listener`` for ``/competency NAME``, with the channel's application in its
    context and, when ``members_only``, only for members of that application's channel."""
    middleware = [ChannelApplication(needs_application=needs_application)]
    if members_only:
        middleware.append(MembersOnly(of_channel))
    app.command(COMMAND, matchers=[subcommand(name)], middleware=middleware)(listener)
