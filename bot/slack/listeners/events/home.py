"""App Home, published whenever a person opens it."""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack.home import home_view
from bot.slack.web_api import call, language_of, now
from storage.db import Database


def register(app: App) -> None:
    app.event("app_home_opened")(publish_home)


def publish_home(event: dict, client: WebClient, context: BoltContext, db: Database) -> None:
    if event.get("tab") not in (None, "home"):
        return
    view = home_view(db, context.team_id or "", event["user"], now(), language_of(client, event["user"]))
    call(client, "views_publish", user_id=event["user"], view=view)
