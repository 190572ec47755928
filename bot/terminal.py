"""The terminal chat: a thin adapter between standard input/output and the walk engine."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from bot.render import render
from bot.terminal_case_studies import CaseStudyChat
from flows.application import REQUIRED, ApplicationState, partner_problem
from flows.checklist import Checklist
from flows.walk import Message
from storage import walks
from storage.db import Database


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
        return line.rstrip("\r\n")

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


def ask_new_application(terminal: Terminal, checklist: Checklist, language: str) -> dict | None:
    """A newcomer's first run: partner name, delivery type and categories."""

    def say(macro: str, **params) -> str:
        return render("setup.j2", macro, language, **params)

    def partner(text: str) -> str:
        problem = partner_problem(text)
        if problem:
            raise ValueError(say("partner_required" if problem == REQUIRED else "partner_too_long"))
        return text

    questions = {
        "partner": (say("ask_partner"), partner),
        "delivery_type": (say("ask_delivery", delivery_types=checklist.delivery_types),
                          lambda text: parse_delivery(text, checklist, language)),
        "categories": (say("ask_categories", categories=checklist.categories),
                       lambda text: parse_categories(text, checklist, language)),
    }
    answers = {}
    for field, (prompt, parse) in questions.items():
        answers[field] = terminal.ask(prompt, parse, language)
        if answers[field] is None:
            return None  # the end of the input: nothing is created
    return answers


def parse_delivery(text: str, checklist: Checklist, language: str) -> str:
    choices = [d.id for d in checklist.delivery_types]
    value = text.strip().lower().replace("-", "_")
    if value.isdigit() and 1 <= int(value) <= len(choices):
        return choices[int(value) - 1]
    aliases = {"customer": "customer_deployed", "客户部署": "customer_deployed", "客户": "customer_deployed"}
    value = aliases.get(value, value)
    if value not in choices:
        raise ValueError(render("setup.j2", "bad_delivery", language, text=text, choices=choices))
    return value


def parse_categories(text: str, checklist: Checklist, language: str) -> tuple[str, ...]:
    ids = [c.id for c in checklist.categories]
    chosen: list[str] = []
    for raw in text.replace("，", ",").split(","):
        value = raw.strip()
        if not value:
            continue
        if value.isdigit() and 1 <= int(value) <= len(ids):
            value = ids[int(value) - 1]
        if value not in ids:
            raise ValueError(render("setup.j2", "bad_category", language, text=value, choices=ids))
        if value not in chosen:
            chosen.append(value)
    if not chosen:
        raise ValueError(render("setup.j2", "category_required", language))
    return tuple(chosen)


def run_chat(
    db: Database,
    checklist: Checklist,
    terminal: Terminal,
    user: str,
    partner: str | None,
    delivery_type: str | None,
    categories: tuple[str, ...] | None,
    language: str,
) -> int:
    now = datetime.now(timezone.utc)
    if partner is None:
        answers = ask_new_application(terminal, checklist, language)
        if answers is None:
            return 0
        partner, delivery_type, categories = answers["partner"], answers["delivery_type"], answers["categories"]
    state = walks.find(db, partner)
    if state is None:
        state = walks.start(
            db,
            ApplicationState(
                partner=partner,
                delivery_type=delivery_type or "saas",
                checklist_id=checklist.id,
                categories=categories or (),
                language=language,
            ),
            actor=user,
            now=now,
        )
    outcome = walks.resume(db, state.id, user, now)
    terminal.say(outcome.messages, outcome.state.language)
    cases = CaseStudyChat(db, checklist, terminal, state.id, user)
    while True:
        line = terminal.read()
        if line is None:
            cases.end_of_input(outcome.state.language)
            terminal.say([Message("bye")], outcome.state.language)
            return 0
        if cases.handle(line, outcome.state.language):
            continue
        outcome = walks.step(db, state.id, line, user, datetime.now(timezone.utc))
        terminal.say(outcome.messages, outcome.state.language)
        if outcome.quit:
            return 0


