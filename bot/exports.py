"""Exports of an application's self-assessment, in every format the bot offers."""

from __future__ import annotations

import json
from datetime import datetime

from bot.render import render_file
from flows.application import ApplicationState
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.export import self_assessment
from storage import walks
from storage.db import Database

FORMATS = ("json", "md")


def export_application(db: Database, partner: str, fmt: str, now: datetime) -> str | None:
    state = walks.find(db, partner)
    if state is None:
        return None
    return render_export(state, fmt, now)


def render_export(state: ApplicationState, fmt: str, now: datetime) -> str:
    checklist = get_checklist(state.checklist_id)
    document = self_assessment(checklist, state, local_today(now, state.timezone))
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return render_file("export/self_assessment.md.j2", state.language, doc=document)
