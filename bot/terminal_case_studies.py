"""The case-study commands of the terminal chat: a thin adapter over
:mod:`flows.case_capture` (the questions) and :mod:`storage.case_studies` (the saves).

The case study being typed in lives only in this process until its last field is
accepted; then it is stored in one transaction. Ending the input half-way (or typing
``cancel``) stores nothing and says so.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from bot.render import render
from flows.case_capture import Capture, CaptureStep, capture_step, parse_case_command, start_capture
from flows.case_studies import document_problem
from flows.checklist import Checklist
from flows.evidence import local_today
from storage import case_studies
from storage.db import Database

if TYPE_CHECKING:
    from bot.terminal import Terminal


class CaseStudyChat:
    def __init__(self, db: Database, checklist: Checklist, terminal: Terminal, application_id: int, user: str):
        self.db = db
        self.checklist = checklist
        self.terminal = terminal
        self.application_id = application_id
        self.user = user
        self.capture: Capture | None = None
        self.today: date | None = None  # the application's day when the capture started

    def say(self, macro: str, language: str, **params) -> None:
        self.terminal.print(render("case_studies.j2", macro, language, **params))
        self.terminal.print()

    def handle(self, line: str, language: str) -> bool:
        """True when ``line`` was a case-study command or the answer to one of its questions."""
        now = datetime.now(timezone.utc)
        if self.capture is not None:
            self.follow(capture_step(self.capture, line, self.checklist, self.today), language, now)
            return True
        command = parse_case_command(line)
        if command is None:
            return False
        overview = case_studies.overview(self.db, self.application_id, now)
        if command.name == "list":
            self.say("listing", language, overview=overview, checklist=self.checklist)
        elif command.name == "check":
            self.say("report", language, overview=case_studies.rederive(self.db, self.application_id, self.user, now))
        elif command.name == "add":
            self.begin(start_capture(self.checklist, len(overview.case_studies) + 1), overview, language, now)
        elif command.name == "edit":
            self.edit(command.argument, overview, language, now)
        else:
            self.document(command.kind, command.argument, overview.state.delivery_type, language, now)
        return True

    def begin(self, step: CaptureStep, overview: case_studies.CaseStudyOverview, language: str,
              now: datetime) -> None:
        self.today = local_today(now, overview.state.timezone)
        self.follow(step, language, now)

    def edit(self, argument: str, overview: case_studies.CaseStudyOverview, language: str, now: datetime) -> None:
        if not argument.isdigit():
            self.say("usage", language)
            return
        number = int(argument)
        if not 1 <= number <= len(overview.case_studies):
            self.say("not_found", language, number=number, total=len(overview.case_studies))
            return
        self.begin(start_capture(self.checklist, number, overview.case_studies[number - 1]), overview, language, now)

    def follow(self, step: CaptureStep, language: str, now: datetime) -> None:
        self.capture = step.capture
        for message in step.messages:
            self.say(message.name, language, **message.params)
        if step.case_study is None:
            return
        if step.case_study.id is None:
            overview, number = case_studies.add(self.db, self.application_id, step.case_study, self.user, now)
        else:
            overview, number = case_studies.update(
                self.db, self.application_id, step.case_study.id, step.case_study, self.user, now
            )
        self.say("saved", language, overview=overview, number=number, editing=step.case_study.id is not None)

    def document(self, kind: str, link: str, delivery_type: str, language: str, now: datetime) -> None:
        if not kind:
            self.say("usage", language)
            return
        problem = document_problem(kind, link, "", delivery_type)
        if problem is not None:
            self.say("document_problem", language, kind=kind, code=problem, delivery_type=delivery_type)
            return
        overview = case_studies.set_document(self.db, self.application_id, kind, link, "", self.user, now)
        self.say("document_saved", language, kind=kind, overview=overview)

    def end_of_input(self) -> int | None:
        """Input ended: a case study still being typed in is not stored. Its number, for
        the goodbye to say so (one message, not two)."""
        number = self.capture.number if self.capture is not None else None
        self.capture = None
        return number
