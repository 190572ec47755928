"""Channel membership kept current from Slack's join and leave events, so checking it
costs no Web API call."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from storage import slack as slack_store
from storage.db import Database


def register(app: App) -> None:
    app.event("member_joined_channel")(member_joined)
    app.event("member_left_channel")(member_left)


def member_joined(event: dict, context: BoltContext, db: Database) -> None:
    slack_store.member_joined(db, context.team_id or "", event["channel"], event["user"])


def member_left(event: dict, context: BoltContext, db: Database) -> None:
    slack_store.member_left(db, context.team_id or "", event["channel"], event["user"])
