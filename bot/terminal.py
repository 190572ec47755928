"""The terminal chat: a thin adapter between standard input/output and the walk engine."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import TextIO

from bot.config import invites_folder, local_timezone
from bot.drills import invite
from bot.render import render
from bot.terminal_case_studies import CaseStudyChat
from flows.application import ApplicationState, partner_problem
from flows.checklist import Checklist, get_checklist
from flows.commands import parse_command
from flows.drills import NO_ITEM, NOT_PLANNABLE, DrillPlan, PlanProblem, parse_when, plannable
from flows.invite import invite_filename
from flows.settings import SettingProblem, parse_value
from flows.text import clean
from flows.walk import Message
from storage import drills, walks
from storage.db import Database
from storage.errors import PartnerInSeveralWorkspaces


class Terminal:
    """Reads lines and prints replies; prompts only when a person is at the keyboard."""

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def read(self, prompt: str = "> ") -> str | None:
        """One line, or None at end of input."""
        if self.interactive:
            self.stdout.write(prompt)
            self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            return None
        return clean(line.rstrip("\r\n"))

    def say(self, messages: list[Message], language: str) -> None:
        for message in messages:
            self.print(render("walk.j2", message.name, language, **message.params))
            self.print()

    def ask(self, question: str, parse: Callable[[str], object], language: str) -> object | None:
        """Ask until ``parse`` accepts the answer (it raises ValueError with the reason)."""
        while True:
            self.print(question)
            line = self.read()
            if line is None:
                return None
            try:
                return parse(line.strip())
            except ValueError as error:
                self.print(str(error))


def run_chat(db: Database, checklist: Checklist, terminal: Terminal, user: str, partner: str | None,
             given: dict[str, object], language: str, team: str | None = None) -> int:
    """The walk in the terminal. ``given``: the settings the command line gave (a subset of
    :data:`flows.settings.SETTINGS`); ``language``: the one to ask in until the
    application's own is known. Ctrl-C stops it like the end of the input does."""
    session = ChatSession(db, checklist, terminal, user, language)
    try:
        return session.run(partner, given, team)
    except KeyboardInterrupt:
        session.stop()
        return 130


class ChatSession:
    def __init__(self, db: Database, checklist: Checklist, terminal: Terminal, user: str, language: str):
        self.db, self.checklist, self.terminal, self.user = db, checklist, terminal, user
        self.language = language
        self.cases: CaseStudyChat | None = None

    def text(self, template: str, macro: str, **params) -> str:
        return render(template, macro, self.language, **params)

    def run(self, partner: str | None, given: dict[str, object], team: str | None = None) -> int:
        if partner is None:
            partner = self.terminal.ask(self.text("setup.j2", "ask_partner"), self.partner, self.language)
            if partner is None:
                return 0  # the end of the input before a name: nothing was created
        try:
            state = walks.find(self.db, partner, team)
        except PartnerInSeveralWorkspaces as several:
            teams = several.teams
            team = self.terminal.ask(self.text("setup.j2", "ask_workspace", partner=partner, teams=teams),
                                     lambda text: self.workspace(text, teams), self.language)
            if team is None:
                return 0  # the end of the input before a choice: nothing was changed
            state = walks.find(self.db, partner, team)
        if state is None and team:
            # A workspace's application starts in its Slack channel, not here.
            self.terminal.print(self.text("setup.j2", "no_application_in_workspace", partner=partner, team=team))
            return 1
        if state is None:
            settings = self.ask_settings(given)
            if settings is None:
                self.terminal.print(self.text("setup.j2", "nothing_created"))
                return 0
            state = walks.start(self.db, ApplicationState(partner=partner, checklist_id=self.checklist.id,
                                                          checklist_release=self.checklist.release, **settings),
                                actor=self.user, now=datetime.now(timezone.utc))
        else:
            # A resumed application answers its own release, whatever --checklist said.
            self.checklist = get_checklist(*state.release_key)
            self.language = state.language
            if not self.offer_changes(state, given):
                self.stop()
                return 0
        outcome = walks.resume(self.db, state.id, self.user, datetime.now(timezone.utc))
        self.language = outcome.state.language
        self.terminal.say(outcome.messages, self.language)
        self.cases = CaseStudyChat(self.db, self.checklist, self.terminal, state.id, self.user)
        while True:
            line = self.terminal.read()
            if line is None:
                self.stop()
                return 0
            if self.cases.handle(line, self.language):
                continue
            command = parse_command(line)
            if command.name == "plan":
                self.plan(state.id, command.argument)
                self.terminal.print()
                continue
            outcome = walks.step(self.db, state.id, line, self.user, datetime.now(timezone.utc))
            self.language = outcome.state.language
            self.terminal.say(outcome.messages, self.language)
            if outcome.quit:
                return 0

    def plan(self, application_id: int, argument: str) -> None:
        """``plan YYYY-MM-DD [HH:MM]``: the current item's drill, in this machine's time
        zone; stored with a history row, and its invite written to the invites folder."""
        state = walks.load(self.db, application_id)
        item = self.checklist.item(state.cursor) if state.cursor else None
        say = partial(self.text, "drills.j2")
        if not plannable(item):
            self.terminal.print(say("problem", reason=NOT_PLANNABLE if item else NO_ITEM, item=item))
            return
        moment, zone_name = datetime.now(timezone.utc), local_timezone()
        when = parse_when(argument, moment, zone_name)
        if isinstance(when, PlanProblem):
            self.terminal.print(say("problem", reason=when.reason, text=when.text))
            return
        plan = drills.save_plan(self.db, state.id, DrillPlan(item.id, *when, zone_name), self.user, moment)
        self.terminal.print(say("planned", item=item, plan=plan, who=self.user, asks=False))
        path = invites_folder() / invite_filename(state.partner, item, plan)
        try:
            path.write_bytes(invite(state, item, plan, [], moment))
        except OSError as error:
            self.terminal.print(say("invite_not_written", path=path, reason=error.strerror or error))
            return
        self.terminal.print(say("invite_written", path=path))

    def stop(self) -> None:
        """The end of the input, or Ctrl-C: say once that everything is saved (and what is not)."""
        unsaved = self.cases.end_of_input() if self.cases else None
        self.terminal.say([Message("bye", {"unsaved_case_study": unsaved})], self.language)

    def workspace(self, text: str, teams: tuple[str, ...]) -> str:
        """One of ``teams``, by its number in the question or its id."""
        if text.isdigit() and 1 <= int(text) <= len(teams):
            return teams[int(text) - 1]
        if text in teams:
            return text
        raise ValueError(self.text("setup.j2", "bad_workspace", count=len(teams)))

    def partner(self, text: str) -> str:
        problem = partner_problem(text)
        if problem:
            raise ValueError(self.text("setup.j2", f"partner_{problem}"))
        return text

    def setting(self, setting: str, default: object = None):
        """A parser for one setting's answer; an empty answer is ``default`` when there is one."""
        today = datetime.now(timezone.utc).date()

        def parse(text: str) -> object:
            if not text and default is not None:
                return default
            try:
                return parse_value(setting, text, self.checklist, today)
            except SettingProblem as problem:
                raise ValueError(self.text("walk.j2", "setting_problem", problem=problem,
                                           checklist=self.checklist)) from None
        return parse

    def ask_settings(self, given: dict[str, object]) -> dict[str, object] | None:
        """A new application: what the command line did not give, asked in turn (the
        language first, so the rest is asked in it). The target audit date is asked along
        with the others, and not when the command line gave everything else."""
        settings = dict(given)
        missing = [s for s in ("language", "delivery_type", "categories") if s not in given]
        if missing and "target_audit_date" not in given:
            missing.append("target_audit_date")
        for setting in missing:
            question = self.text("setup.j2", f"ask_{setting}", checklist=self.checklist, default=self.language)
            parse = self.setting(setting, self.language if setting == "language" else None)
            answer = self.terminal.ask(question, parse, self.language)
            if answer is None and setting != "target_audit_date":
                return None  # the end of the input: nothing is created
            settings[setting] = answer
            if setting == "language":
                self.language = answer
        settings.setdefault("language", self.language)
        return settings

    def offer_changes(self, state: ApplicationState, given: dict[str, object]) -> bool:
        """Settings given on the command line that differ from the stored application: say
        which, and change each the person agrees to. False at the end of the input."""
        for setting, value in given.items():
            old = getattr(state, setting)
            if value == old:
                continue
            question = self.text("setup.j2", "offer_change", partner=state.partner, setting=setting, old=old,
                                 new=value, checklist=self.checklist)
            agreed = self.terminal.ask(question, self.yes_or_no, self.language)
            if agreed is None:
                return False
            if agreed:
                outcome = walks.change(self.db, state.id, setting, value, self.user, datetime.now(timezone.utc))
                self.language = outcome.state.language
                self.terminal.say(outcome.messages, self.language)
        return True

    def yes_or_no(self, text: str) -> bool:
        answer = parse_command(text).name
        if answer not in ("met", "not_met"):
            raise ValueError(self.text("setup.j2", "yes_or_no"))
        return answer == "met"
