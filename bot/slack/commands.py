"""``/competency SUBCOMMAND``: one slash command, routed to each domain's handler.

Each domain module (walk, case studies, digests, …) adds its words to the router in its
``register``; the router does what is common to all: length check, finding the
channel's application, refusing non-members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.render import render
from flows.application import MAX_TEXT, ApplicationState
from storage import slack as slack_store
from storage import walks
from storage.db import Database


@dataclass
class CommandRequest:
    ack: Ack
    client: WebClient
    body: dict
    team_id: str
    channel: str
    user: str
    word: str
    rest: str
    state: ApplicationState | None  # the channel's application, if any
    language: str


@dataclass(frozen=True)
class Route:
    handler: Callable[[CommandRequest], None]
    needs_application: bool
    members_only: bool


def slack_text(macro: str, language: str, **params) -> str:
    return render("slack/walk.j2", macro, language, style="slack", **params)


class CommandRouter:
    def __init__(self, db: Database):
        self.db = db
        self.routes: dict[str, Route] = {}

    def add(self, words: tuple[str, ...], handler: Callable[[CommandRequest], None], *,
            needs_application: bool = True, members_only: bool = True) -> None:
        for word in words:
            self.routes[word] = Route(handler, needs_application, members_only)

    def dispatch(self, ack: Ack, body: dict, client: WebClient) -> None:
        text = (body.get("text") or "").strip()
        if len(text) > MAX_TEXT:
            ack(render("walk.j2", "too_long", "en", limit=MAX_TEXT, length=len(text)))
            return
        word, _, rest = text.partition(" ")
        word = word.lower() or "help"
        team_id, channel, user = body["team_id"], body["channel_id"], body["user_id"]
        found = walks.in_channel(self.db, team_id, channel)
        state = found[0] if found else None
        language = state.language if state else "zh"
        route = self.routes.get(word)
        if route is None:
            ack(slack_text("unknown_command", language, text=text))
            return
        if route.needs_application and state is None:
            ack(slack_text("no_application", language))
            return
        if route.members_only and state is not None and not slack_store.may_change(self.db, team_id, state.id, user):
            ack(slack_text("not_member", language))
            return
        route.handler(CommandRequest(ack, client, body, team_id, channel, user, word, rest.strip(), state, language))
