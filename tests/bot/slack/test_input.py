"""Text as it comes in from Slack, on SQLite and PostgreSQL: one global middleware cleans
every string of a request before any listener sees it (NUL and other controls dropped,
NFC), and partner names are refused or recognised however they are written."""

from __future__ import annotations

import json
import unicodedata

from storage import walks
from tests.support.slack import (
    START_VALUES,
    TEAM,
    item_message_ts,
    send_event,
    send_form,
    send_interaction,
    slash_command,
    view_submission,
)

DIRTY = "\x00\x1b[31m\x07\x85"  # NUL, an ANSI escape sequence, BEL, a C1 control


def submit_start(server, slack_api, partner: str, opened: int = 1, channel: str = "CTEAM") -> tuple[int, str]:
    assert send_form(server, slash_command("start", channel=channel))[0] == 200
    view = slack_api.wait_for("views.open", opened)[-1]["view"]
    values = {**START_VALUES, "partner": {"value": {"type": "plain_text_input", "value": partner}}}
    return send_interaction(server, view_submission("start_modal", values, json.loads(view["private_metadata"])))


def test_a_start_form_with_control_characters_starts_the_application_cleaned(server, slack_api, db):
    status, body = submit_start(server, slack_api, f"Acme{DIRTY} Cafe\u0301")
    assert (status, body) == (200, "")
    assert walks.find(db, "acme[31m café", TEAM).partner == unicodedata.normalize("NFC", "Acme[31m Café")


def test_evidence_form_and_thread_reply_with_a_nul_are_stored_without_it(started, server, slack_api, db):
    from tests.support.slack import block_action

    send_interaction(server, block_action("walk_evidence", f"{started}|T1.24"))
    view = slack_api.wait_for("views.open", 2)[1]["view"]
    values = {"link": {"value": {"value": f"https://wiki.example.com/drill{DIRTY}"}},
              "evidence_date": {"value": {"selected_date": "2026-06-01"}},
              "note": {"value": {"value": f"rehearsed{DIRTY}"}}}
    status, body = send_interaction(server, view_submission("evidence_modal", values,
                                                            json.loads(view["private_metadata"])))
    assert (status, body) == (200, "")
    answer = walks.load(db, started).answer("T1.24")
    assert answer.evidence[0].text == "https://wiki.example.com/drill[31m" and answer.note == "rehearsed[31m"

    event = {"type": "message", "channel": "CTEAM", "user": "UBOB", "text": f"note kept{DIRTY}\r\nsecond line",
             "ts": "1700000100.000300", "thread_ts": item_message_ts(db, "P1.1"), "channel_type": "channel"}
    assert send_event(server, event, "EvNul")[0] == 200
    slack_api.wait_for("chat.postMessage", 3)
    assert walks.load(db, started).answer("P1.1").note == "kept[31m\nsecond line"


def test_partner_names_with_direction_marks_or_line_breaks_are_refused_in_the_form(server, slack_api, db):
    for opened, partner in enumerate(("\u202eliateR emcA", "Acme\nRetail"), start=1):
        status, body = submit_start(server, slack_api, partner, opened)
        assert status == 200
        assert json.loads(body) == {"response_action": "errors", "errors": {
            "partner": "The partner name cannot hold line breaks, tabs, control characters or text-direction marks."}}
    assert slack_api.sent("chat.postMessage") == []


def test_a_partner_written_another_way_is_the_same_partner(started, server, slack_api, db):
    status, body = submit_start(server, slack_api, "ＡＣＭＥ\u200b Retail", opened=2, channel="CSHOP")
    assert json.loads(body) == {"response_action": "errors", "errors": {
        "partner": "This workspace already has an application for this partner."}}
