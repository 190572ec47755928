"""App Home: each of the user's applications, what is assigned to them, what expires soon."""

from __future__ import annotations

from datetime import datetime

from bot.render import render
from bot.slack.blocks import fold, section
from bot.slack.walk import applications_of_user
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.progress import expiring_within, part_progress
from flows.sign_off import part_sign_offs, unreviewed
from storage.db import Database

HOME_BLOCKS = 100


def home_view(db: Database, team_id: str, user: str, now: datetime, language: str) -> dict:
    """``language``: the person's, for the view's own texts; each application speaks its own."""
    states = [state for _, state in applications_of_user(db, team_id, user)]
    blocks = [{"type": "header", "text": {"type": "plain_text",
                                          "text": render("slack/home.j2", "header", language)[:150]}}]
    if not states:
        blocks.append(section(render("slack/home.j2", "empty", language, style="slack")))
    for state in states:
        checklist = get_checklist(*state.release_key)
        today = local_today(now, state.timezone)
        text = render(
            "slack/home.j2", "application", state.language, style="slack", state=state,
            parts=part_progress(checklist, state, today),
            assigned=[i for i in checklist.applicable_items(state.delivery_type)
                      if state.answer(i.id).assignee == user],
            expiring=expiring_within(checklist, state, today, 90),
            sign_offs=part_sign_offs(checklist, state, today) if state.reviewers else (),
            unreviewed=unreviewed(checklist, state, today),
        )
        chunks = [section(chunk) for chunk in fold(text)] + [{"type": "divider"}]
        if len(blocks) + len(chunks) > HOME_BLOCKS:
            break
        blocks += chunks
    return {"type": "home", "blocks": blocks}
