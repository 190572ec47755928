"""Releases in Slack: /competency upgrade with its confirmation form, and /competency
start offering a choice of checklist when more than one is installed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.releases import install_lens
from flows.checklist import use_folders
from storage import walks
from storage.applications import history
from tests.support.releases import REMOVED_ITEM, TEXT_CHANGED, write_release
from tests.support.slack import START_VALUES, TEAM, send_form, send_interaction, slash_command, texts, view_submission

NOW = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


@pytest.fixture
def checklists(tmp_path) -> Path:
    """The operator's folder of installed checklists, for this test only."""
    folder = tmp_path / "checklists"
    folder.mkdir()
    use_folders(folder)
    yield folder
    use_folders()


def test_upgrade_shows_what_reopens_and_moves_once_confirmed(started, server, slack_api, db, checklists):
    walks.on_item(db, started, TEXT_CHANGED, "yes", "UALICE", NOW)
    walks.record_evidence(db, started, TEXT_CHANGED, "https://wiki/drill", "2026-03-01", "", "UALICE", NOW)
    walks.on_item(db, started, REMOVED_ITEM, "no", "UALICE", NOW)
    write_release(checklists)
    use_folders(checklists)  # a release installed since the process started
    status, body = send_form(server, slash_command("升级"))
    assert (status, body) == (200, "")  # a form opens; nothing for the channel yet
    [_, opened] = slack_api.wait_for("views.open", 2)  # the start form, then this one
    view = opened["view"]
    assert view["callback_id"] == "upgrade_modal" and view["title"]["text"] == "Move to a new release"
    shown = texts(view["blocks"])
    assert "Acme Retail: release 1.0 → 2.0" in shown
    assert f"{TEXT_CHANGED} (was: met)" in shown and f"{REMOVED_ITEM} (not met)" in shown
    assert walks.load(db, started).checklist_release == "1.0"  # nothing moves before the confirmation

    status, body = send_interaction(server, view_submission("upgrade_modal", {}, json.loads(view["private_metadata"])))
    assert (status, body) == (200, "")
    posted = slack_api.wait_for("chat.postMessage", 2)[-1]  # after the first item
    assert posted["channel"] == "CTEAM" and posted["text"].startswith("Moved to release 2.0")
    state = walks.load(db, started)
    assert state.checklist_release == "2.0" and state.answer(TEXT_CHANGED).previous_status == "met"
    assert ("checklist_release", "1.0", "2.0", "UALICE") in [
        (h.field, h.old_value, h.new_value, h.actor) for h in history(db, started)]


def test_upgrade_without_a_newer_release_says_so(started, server, db, checklists):
    status, body = send_form(server, slash_command("upgrade"))
    assert status == 200 and "Acme Retail already answers release 1.0." in body


def test_start_offers_each_installed_checklist(server, slack_api, db, checklists, tmp_path):
    lens = {"schemaVersion": "2021-11-01", "name": "Key policy", "pillars": [{
        "id": "security", "name": "Security", "questions": [{
            "id": "sec_keys", "title": "Do you rotate keys?",
            "choices": [{"id": "sec_keys_auto", "title": "Automatically"}, {"id": "sec_keys_no", "title": "None"}],
            "riskRules": [{"condition": "default", "risk": "HIGH_RISK"}]}]}]}
    (tmp_path / "policy.json").write_text(json.dumps(lens), encoding="utf-8")
    install_lens(tmp_path / "policy.json", "policy", checklists, "en")
    use_folders(checklists)
    status, _ = send_form(server, slash_command("start"))
    assert status == 200
    view = slack_api.wait_for("views.open")[0]["view"]
    choice = next(b for b in view["blocks"] if b["block_id"] == "checklist")
    assert [o["value"] for o in choice["element"]["options"]] == ["aws-retail-competency", "policy"]
    categories = next(b for b in view["blocks"] if b["block_id"] == "categories")["element"]["options"]
    assert [o["value"] for o in categories][-1] == "all"
    values = {**START_VALUES,
              "checklist": {"value": {"type": "static_select", "selected_option": {"value": "policy"}}},
              "categories": {"value": {"type": "checkboxes",
                                       "selected_options": [{"value": "stores"}, {"value": "all"}]}}}
    status, body = send_interaction(server, view_submission("start_modal", values, {"c": "CTEAM"}))
    assert (status, body) == (200, "")
    posted = slack_api.wait_for("chat.postMessage")[0]
    assert "sec_keys" in texts(posted["blocks"]) and "Do you rotate keys?" in texts(posted["blocks"])
    state = walks.find(db, "Acme Retail", TEAM)
    assert (state.checklist_id, state.checklist_release, state.categories) == ("policy", "1.0", ("all",))
