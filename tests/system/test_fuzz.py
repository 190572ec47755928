"""Free text fuzzed with Hypothesis, through the engine and through the HTTP endpoint:
no crash, nothing stored over its limit, replies that are valid Block Kit, and no
mention, broadcast or link that the user did not write as plain text."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import SlackSettings
from bot.render import render
from bot.slack import blocks
from bot.slack.server import create_web_app
from flows.application import MAX_TEXT, ApplicationState
from flows.checklist import get_checklist
from flows.walk import handle, on_item, record_evidence
from storage import slack as slack_store
from storage import walks
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    BotServer,
    FakeSlackAPI,
    block_action,
    send_form,
    send_interaction,
    slash_command,
    view_submission,
)

CHECKLIST = get_checklist()
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
SPECIAL = ["<!channel>", "<!here>", "<!subteam^S123>", "<@U999>", "<#C999>", "<http://evil.example|click>",
           "&lt;!channel&gt;", "yes", "no", "na", "skip", "back", "goto T1.24", "note ", "evidence ", "date 2026-01-01",
           "是", "否", "跳过", "\n", "|", "*", "`", "\x00"]
free_text = st.one_of(
    st.text(max_size=400),
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=20)), max_size=12).map("".join),
    st.text(min_size=2990, max_size=3100, alphabet="ab "),
)
UNSAFE = re.compile(r"<(?:!|@|#|https?:|mailto:)")


def check_block_kit(message_blocks: list[dict]) -> None:
    assert len(message_blocks) <= 50
    for block in message_blocks:
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= 3000
        for element in block.get("elements", []):
            if isinstance(element.get("text"), dict) and element["type"] == "button":
                assert len(element["text"]["text"]) <= 75
            elif isinstance(element.get("text"), str):
                assert len(element["text"]) <= 3000


def state(**changes) -> ApplicationState:
    values = {"partner": "Acme", "delivery_type": "saas", "checklist_id": CHECKLIST.id, "language": "en",
              "cursor": "T1.24", "id": 1, **changes}
    return ApplicationState(**values)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(free_text, min_size=1, max_size=4), language=st.sampled_from(["en", "zh"]))
def test_the_engine_takes_any_text(lines, language):
    current = state(language=language)
    for line in lines:
        outcome = handle(CHECKLIST, current, line, "U1", NOW)
        current = outcome.state
        for message in outcome.messages:
            for style in ("text", "slack"):
                said = render("walk.j2", message.name, language, style=style, **message.params)
                if style == "slack":
                    assert not UNSAFE.search(said), said
    for answer in current.answers.values():
        assert len(answer.note) <= MAX_TEXT and len(answer.assignee) <= MAX_TEXT
        assert all(len(e.text) <= MAX_TEXT for e in answer.evidence)
    item = CHECKLIST.item(current.cursor or "P1.1")
    check_block_kit(blocks.item_blocks(CHECKLIST, current, item))


@settings(max_examples=200, deadline=None)
@given(text=free_text, date_text=st.one_of(st.text(max_size=30), st.dates().map(str)), note=free_text)
def test_evidence_forms_take_any_text(text, date_text, note):
    result = record_evidence(CHECKLIST, state(), "T1.24", text[:MAX_TEXT], date_text, note[:MAX_TEXT], "U1", NOW)
    if hasattr(result, "state"):
        answer = result.state.answer("T1.24")
        assert answer.evidence[-1].text == text[:MAX_TEXT]
        said = "".join(render("walk.j2", m.name, "en", style="slack", **m.params) for m in result.messages)
        assert not UNSAFE.search(said)
        check_block_kit(blocks.item_blocks(CHECKLIST, result.state, CHECKLIST.item("T1.24")))
    else:
        assert result.reason in ("unreadable", "future")


@settings(max_examples=100, deadline=None)
@given(line=free_text)
def test_thread_replies_on_any_item_take_any_text(line):
    outcome = on_item(CHECKLIST, state(), "P1.4", line, "U1", NOW)
    assert outcome.state.answer("P1.4").note == "" or len(outcome.state.answer("P1.4").note) <= MAX_TEXT


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    from storage.db import Database, upgrade

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    upgrade(db)
    api = FakeSlackAPI()
    settings_ = SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                               "SLACK_API_URL": api.url})
    server = BotServer(create_web_app(settings_, db))
    created = walks.start(db, state(), "UALICE", NOW, team_id=TEAM, channel_id="CTEAM")
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], NOW)
    yield server, db, api, created.id
    server.close()
    api.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=free_text)
def test_slash_command_text_over_http(http, text):
    server, db, api, _ = http
    status, body = send_form(server, slash_command(text))
    assert status == 200
    assert "Traceback" not in body and not UNSAFE.search(body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(link=free_text, note=free_text, day=st.dates().map(str))
def test_evidence_modal_over_http(http, link, note, day):
    server, db, api, application_id = http
    values = {"link": {"value": {"value": link}}, "evidence_date": {"value": {"selected_date": day}},
              "note": {"value": {"value": note}}}
    metadata = {"a": application_id, "i": "T1.24", "c": "CTEAM", "ts": ""}
    status, body = send_interaction(server, view_submission("evidence_modal", values, metadata))
    assert status == 200
    if body:
        answer = json.loads(body)
        assert answer["response_action"] == "errors" and answer["errors"]
    stored = walks.load(db, application_id).answer("T1.24")
    assert all(len(e.text) <= MAX_TEXT for e in stored.evidence) and len(stored.note) <= MAX_TEXT


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=60))
def test_forged_button_values_over_http(http, value):
    server, *_ = http
    status, _ = send_interaction(server, block_action("walk_met", value))
    assert status == 200
