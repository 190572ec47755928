"""App Home: each of the user's applications, what is assigned to them, what expires soon."""

from __future__ import annotations

from datetime import datetime, timezone

from slack_bolt import App

from bot.render import render
from bot.slack.blocks import fold, section
from bot.slack.walk import WalkService, call
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.progress import expiring_within, part_progress
from storage.db import Database

HOME_BLOCKS = 100


def home_view(service: WalkService, team_id: str, user: str, now: datetime) -> dict:
    states = service.applications_of_user(team_id, user)
    language = states[0].language if states else "zh"
    blocks = [{"type": "header", "text": {"type": "plain_text",
                                          "text": render("slack/home.j2", "header", language)[:150]}}]
    if not states:
        blocks.append(section(render("slack/home.j2", "empty", language, style="slack")))
    for state in states:
        checklist = get_checklist(state.checklist_id)
        today = local_today(now, state.timezone)
        text = render(
            "slack/home.j2", "application", state.language, style="slack", state=state,
            parts=part_progress(checklist, state, today),
            assigned=[i for i in checklist.applicable_items(state.delivery_type)
                      if state.answer(i.id).assignee == user],
            expiring=expiring_within(checklist, state, today, 90),
        )
        chunks = [section(chunk) for chunk in fold(text)] + [{"type": "divider"}]
        if len(blocks) + len(chunks) > HOME_BLOCKS:
            break
        blocks += chunks
    return {"type": "home", "blocks": blocks}


def register(app: App, db: Database) -> None:
    service = WalkService(db)

    @app.event("app_home_opened")
    def home_opened(event, body, client):  # noqa: ANN001
        if event.get("tab") not in (None, "home"):
            return
        team_id = body.get("team_id", "")
        view = home_view(service, team_id, event["user"], datetime.now(timezone.utc))
        call(client, "views_publish", user_id=event["user"], view=view)
