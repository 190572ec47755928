"""``/competency reviewers @a @b | none | required | optional`` and ``/competency review``."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot.slack.listeners.commands.routing import add_subcommand
from bot.slack.listeners.commands.walk import USER_MENTION
from bot.slack.sign_off import review_list
from bot.slack.texts import say_messages, slack_text
from bot.slack.web_api import now
from flows.application import ApplicationState
from flows.commands import NONE_WORDS, SIGN_OFF_WORDS
from storage import slack as slack_store
from storage import walks
from storage.db import Database


def register(app: App) -> None:
    add_subcommand(app, "reviewers", set_reviewers)
    add_subcommand(app, "review", list_waiting)


def set_reviewers(ack: Ack, context: BoltContext, db: Database, state: ApplicationState, argument: str,
                  language: str) -> None:
    word = argument.strip().lower()
    if word in NONE_WORDS:
        setting, value = "reviewers", ()
    elif word in SIGN_OFF_WORDS:
        setting, value = "require_sign_off", SIGN_OFF_WORDS[word]
    else:
        reviewers = tuple(dict.fromkeys(USER_MENTION.findall(argument)))
        if not reviewers:
            ack(slack_text("reviewers_usage", language))
            return
        outside = next((user for user in reviewers if not slack_store.in_application_channel(db, state.id, user)),
                       None)
        if outside is not None:  # their presses would be refused
            ack(slack_text("reviewer_not_member", language, who=outside))
            return
        setting, value = "reviewers", reviewers
    outcome = walks.change(db, state.id, setting, value, context.user_id, now())
    ack(say_messages(outcome.messages, language))


def list_waiting(ack: Ack, state: ApplicationState) -> None:
    ack(**review_list(state))
