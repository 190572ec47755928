"""The real Bolt app over signed HTTP, against a stand-in Web API that records calls."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.config import ConfigError, SlackSettings
from bot.exports import render_export
from bot.slack.server import create_web_app
from storage import walks
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    BotServer,
    block_action,
    install,
    item_message_ts,
    send_event,
    send_form,
    send_interaction,
    slash_command,
    texts,
    view_submission,
)
from tests.support.web import WebProcess


def test_start_modal_creates_the_application_and_posts_the_first_item(started, slack_api, db):
    first = slack_api.sent("chat.postMessage")[0]
    assert first["channel"] == "CTEAM"
    shown = texts(first["blocks"])
    assert "<@UALICE> started the AWS Retail Competency application for Acme Retail" in shown
    assert "*P1.1 · APN Program Membership*" in shown and "(1/62)" in shown
    buttons = [e["action_id"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["walk_met", "walk_not_met", "walk_skip", "walk_back", "walk_evidence"]
    state = walks.find(db, "acme retail", TEAM)
    assert state.delivery_type == "saas" and state.categories == ("stores",) and state.language == "en"
    assert str(state.target_audit_date) == "2027-03-01"
    assert slack_api.sent("conversations.members")[0]["channel"] == "CTEAM"


def test_a_button_answer_is_stored_the_message_updated_and_the_next_item_posted(started, server, slack_api, db):
    status, _ = send_interaction(server, block_action("walk_met", f"{started}|P1.1"))
    assert status == 200
    assert walks.load(db, started).answer("P1.1").status == "met"  # stored before the ack returned
    update = slack_api.wait_for("chat.update")[0]
    assert update["ts"] == "1700000000.000001"
    assert "Answered met by <@UALICE>." in texts(update["blocks"])
    posted = slack_api.wait_for("chat.postMessage", 2)[1]
    assert "*P1.2 · APN Program Membership*" in texts(posted["blocks"])


def test_a_button_answer_keeps_the_evidence_already_stored(started, server, slack_api, db, now):
    walks.record_evidence(db, started, "T1.24", "https://wiki.example.com/drill", "2026-06-01", "", "UALICE", now)
    status, _ = send_interaction(server, block_action("walk_met", f"{started}|T1.24"))
    assert status == 200
    answer = walks.load(db, started).answer("T1.24")
    assert answer.status == "met"
    assert [(e.text, str(e.evidence_date), str(e.expires_on)) for e in answer.evidence] == [
        ("https://wiki.example.com/drill", "2026-06-01", "2027-06-01")]


def test_na_button_only_where_allowed_and_refused_elsewhere(started, server, slack_api, db):
    send_interaction(server, block_action("walk_not_applicable", f"{started}|P1.2"))
    assert walks.load(db, started).answer("P1.2").status is None
    send_interaction(server, block_action("walk_not_applicable", f"{started}|T1.25"))
    assert walks.load(db, started).answer("T1.25").status == "not_applicable"


def test_evidence_modal_with_a_future_date_shows_a_field_error_and_stores_nothing(started, server, slack_api, db):
    send_interaction(server, block_action("walk_evidence", f"{started}|T1.24"))
    view = slack_api.wait_for("views.open", 2)[1]["view"]
    assert view["callback_id"] == "evidence_modal"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["link", "evidence_date", "note"]
    metadata = json.loads(view["private_metadata"])
    values = {"link": {"value": {"value": "https://wiki.example.com/drill"}},
              "evidence_date": {"value": {"selected_date": "2099-01-01"}},
              "note": {"value": {"value": ""}}}
    status, body = send_interaction(server, view_submission("evidence_modal", values, metadata))
    assert status == 200
    assert json.loads(body) == {"response_action": "errors",
                                "errors": {"evidence_date": "The evidence's date cannot be in the future."}}
    assert walks.load(db, started).answer("T1.24").evidence == ()
    values["evidence_date"]["value"]["selected_date"] = "2026-06-01"
    status, body = send_interaction(server, view_submission("evidence_modal", values, metadata))
    assert status == 200 and body == ""
    evidence = walks.load(db, started).answer("T1.24").evidence
    assert evidence[0].text == "https://wiki.example.com/drill" and str(evidence[0].expires_on) == "2027-06-01"


def test_forged_and_stale_requests_are_refused(started, server, db):
    status, _ = send_interaction(server, block_action("walk_met", f"{started}|P1.1"), secret="wrong-secret")
    assert status == 401
    status, _ = send_interaction(server, block_action("walk_met", f"{started}|P1.1"), timestamp=int(time.time()) - 600)
    assert status == 401
    assert walks.load(db, started).answer("P1.1").status is None


def test_a_retried_event_applies_once(started, server, slack_api, db):
    thread_ts = item_message_ts(db, "P1.1")
    event = {"type": "message", "channel": "CTEAM", "user": "UBOB", "text": "note first note",
             "ts": "1700000100.000100", "thread_ts": thread_ts, "channel_type": "channel"}
    assert send_event(server, event, "Ev001")[0] == 200
    slack_api.wait_for("chat.postMessage", 2)
    event["text"] = "note changed by a retry"
    assert send_event(server, event, "Ev001", retry=1)[0] == 200
    # A later, new event marks when the retry would have been handled: its reply is the third post.
    later = {**event, "text": "note a later note", "ts": "1700000100.000101"}
    assert send_event(server, later, "Ev001b")[0] == 200
    posts = slack_api.wait_for("chat.postMessage", 3)
    assert walks.load(db, started).answer("P1.1").note == "a later note"
    assert len(slack_api.sent("chat.postMessage")) == 3  # the item, the first note's reply, the later one's
    assert "changed by a retry" not in json.dumps(posts)


def test_a_thread_reply_answers_its_item(started, server, slack_api, db):
    thread_ts = item_message_ts(db, "P1.1")
    event = {"type": "message", "channel": "CTEAM", "user": "UBOB", "text": "否", "ts": "1700000100.000200",
             "thread_ts": thread_ts, "channel_type": "channel"}
    send_event(server, event, "Ev002")
    reply = slack_api.wait_for("chat.postMessage", 2)[1]
    assert reply["thread_ts"] == thread_ts and "Saved: P1.1 not met." in reply["text"]
    assert walks.load(db, started).answer("P1.1").status == "not_met"
    assert walks.load(db, started).answer("P1.1").answered_by == "UBOB"


def test_history_and_undo_work_in_an_items_thread_and_in_a_dm(started, server, slack_api, db):
    thread_ts = item_message_ts(db, "P1.1")

    def say(text: str, event_id: str, channel: str = "CTEAM") -> str:
        """UBOB types ``text`` in P1.1's thread (or his DM): the bot's reply there."""
        event = {"type": "message", "channel": channel, "user": "UBOB", "text": text,
                 "ts": f"1700000300.{event_id[2:]}", "channel_type": "channel" if channel == "CTEAM" else "im"}
        if channel == "CTEAM":
            event["thread_ts"] = thread_ts
        def replies() -> list[str]:
            return [p["text"] for p in slack_api.sent("chat.postMessage")
                    if p["channel"] == channel and p.get("thread_ts") == event.get("thread_ts")]

        before = len(replies())
        assert send_event(server, event, event_id)[0] == 200
        deadline = time.monotonic() + 10
        while len(replies()) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        return replies()[before]

    assert "Saved: P1.1 not met." in say("no", "Ev030")
    shown = say("history", "Ev031")  # in the item's thread: that item's history
    assert "*History of P1.1:*" in shown and "UBOB  P1.1 status: — → not met" in shown
    assert "Undone:" in say("撤销", "Ev032") and walks.load(db, started).answer("P1.1").status is None
    assert "You have no change left to undo." in say("undo", "Ev033")
    # In a DM the words are the terminal's: "history" is the application's latest changes.
    shown = say("history", "Ev034", channel="DUBOB")
    assert "*History:*" in shown and "P1.1 status: not met → —" in shown


def test_a_non_member_is_refused(started, server, slack_api, db):
    send_interaction(server, block_action("walk_met", f"{started}|P1.1", user="UMALLORY",
                                          response_url=slack_api.response_url))
    # Through the request's response_url, which reaches people who only preview the channel.
    refusal = slack_api.wait_for("response_url")[0]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert "Only members of the application's channel" in refusal["text"]
    assert walks.load(db, started).answer("P1.1").status is None


def test_assign_sends_the_item_by_dm(started, server, slack_api, db):
    status, body = send_form(server, slash_command("assign T1.24 <@UBOB|bob>"))
    assert status == 200 and "T1.24 is assigned to <@UBOB>." in body
    assert walks.load(db, started).answer("T1.24").assignee == "UBOB"
    dm = slack_api.wait_for("chat.postMessage", 2)[1]
    assert dm["channel"] == "DUBOB" and "<@UALICE> assigned T1.24 to you." in texts(dm["blocks"])


def test_status_and_help_answer_in_the_acknowledgement(started, server):
    status, body = send_form(server, slash_command("status"))
    assert status == 200 and "Prerequisites: 0/14 answered" in body
    status, body = send_form(server, slash_command("help"))
    assert "/competency assign ID @person" in body


def test_user_text_cannot_ping_the_channel(started, server, slack_api, db):
    send_form(server, slash_command("goto <!channel> T9"))
    send_form(server, slash_command("assign P1.1 <!here> <@UBOB>"))
    _, body = send_form(server, slash_command("goto <!channel>"))
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body


def test_the_terminal_and_slack_see_the_same_application(started, server, slack_api, db, now):
    send_interaction(server, block_action("walk_not_met", f"{started}|P1.1"))
    walks.step(db, started, "goto P1.2", "terminal-user", now)
    walks.step(db, started, "yes", "terminal-user", now)
    state = walks.load(db, started)
    assert state.answer("P1.1").status == "not_met" and state.answer("P1.1").answered_by == "UALICE"
    assert state.answer("P1.2").status == "met" and state.answer("P1.2").answered_by == "terminal-user"
    document = json.loads(render_export(db, walks.load(db, started), "json", now))
    items = {i["id"]: i for part in document["parts"] for i in part["items"]}
    assert items["P1.1"]["status"] == "not_met" and items["P1.2"]["status"] == "met"


def test_export_uploads_the_markdown(started, server, slack_api):
    send_form(server, slash_command("export"))
    slack_api.wait_for("files.completeUploadExternal")
    assert slack_api.sent("files.getUploadURLExternal")[0]["filename"].endswith(".md")


def test_oauth_install_stores_the_token_encrypted(db, slack_api):
    key = Fernet.generate_key().decode()
    settings = SlackSettings.from_env("web", {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "shh",
        "TOKEN_ENCRYPTION_KEY": key, "SLACK_API_URL": slack_api.url})
    running = BotServer(create_web_app(settings, db))
    try:
        install(running)
        with db.engine.connect() as connection:
            stored = connection.execute(text("SELECT bot_token FROM slack_installations")).scalar_one()
        assert stored.startswith("enc:") and "xoxb-secret-installed-token-1234" not in stored
        from storage.installations import EncryptedInstallationStore, TokenCipher
        found = EncryptedInstallationStore("111.222", db, TokenCipher(key)).find_installation(
            enterprise_id=None, team_id="T0NEW")
        assert found.bot_token == "xoxb-secret-installed-token-1234"
    finally:
        running.close()


def test_missing_settings_are_named():
    with pytest.raises(ConfigError) as error:
        SlackSettings.from_env("socket", {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_APP_TOKEN" in str(error.value) and "SLACK_SIGNING_SECRET" not in str(error.value)
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1", "SLACK_CLIENT_SECRET": "2"})


def test_the_manifest_subscribes_to_the_events_the_app_listens_to():
    from bot.slack.manifest import manifest

    subscribed = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    assert subscribed == {"app_home_opened", "member_joined_channel", "member_left_channel", "app_uninstalled",
                          "tokens_revoked", "message.channels", "message.groups", "message.im"}
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True


def test_a_direct_message_answers_the_users_application(started, server, slack_api, db):
    event = {"type": "message", "channel": "DALICE", "user": "UALICE", "text": "yes", "ts": "1700000200.000001",
             "channel_type": "im"}
    send_event(server, event, "Ev010")
    slack_api.wait_for("chat.postMessage", 3)
    assert walks.load(db, started).answer("P1.1").status == "met"
    replies = [m for m in slack_api.sent("chat.postMessage") if m["channel"] == "DALICE"]
    assert len(replies) == 1 and "Saved: P1.1 met." in replies[0]["text"]
    # The walk stays in the team's channel: the next item is posted there, not in the DM.
    following = slack_api.sent("chat.postMessage")[-1]
    assert following["channel"] == "CTEAM" and "*P1.2 · APN Program Membership*" in texts(following["blocks"])


def test_app_home_shows_the_users_applications(started, server, slack_api, db):
    send_form(server, slash_command("assign T1.24 <@UALICE>"))
    send_event(server, {"type": "app_home_opened", "user": "UALICE", "channel": "DALICE", "tab": "home"}, "Ev011")
    view = slack_api.wait_for("views.publish")[0]["view"]
    shown = texts(view["blocks"])
    assert view["type"] == "home" and "*Acme Retail*" in shown
    assert "Prerequisites: 0/14 answered" in shown and "Assigned to you: T1.24" in shown
    assert len(view["blocks"]) <= 100


def test_the_item_message_and_app_home_word_the_last_valid_day_as_the_walk_does(started, server, slack_api, db):
    from datetime import UTC, datetime, timedelta

    from bot.render import render
    from flows.checklist import get_checklist

    today = datetime.now(UTC)
    dated = today.date() - timedelta(days=340)  # a 12-month window: some 25 days left
    walks.record_evidence(db, started, "T1.24", "https://wiki.example.com/drill", dated.isoformat(), "", "UALICE",
                          today)
    item = get_checklist().item("T1.24")
    last = render("common.j2", "last_valid_day", "en", day=item.expiry(dated))
    send_interaction(server, block_action("walk_met", f"{started}|T1.24"))
    answered = texts(slack_api.wait_for("chat.update")[0]["blocks"])
    assert f"1 piece(s) of evidence · {last}." in answered and "valid until" not in answered
    send_event(server, {"type": "app_home_opened", "user": "UALICE", "channel": "DALICE", "tab": "home"}, "Ev040")
    home = texts(slack_api.wait_for("views.publish")[0]["view"]["blocks"])
    left = (item.expiry(dated) - today.date()).days
    assert f"- T1.24 {item.title('en')}: {last} (in {left} days)" in home and "expires" not in home


def test_long_requirement_text_is_folded_not_cut():
    from bot.slack.blocks import fold

    text = ("word " * 1500).strip()
    chunks = fold(text, 3000)
    assert all(len(chunk) <= 3000 for chunk in chunks) and " ".join(chunks) == text
    assert all(not chunk.endswith("wor") for chunk in chunks)
    chinese = "要求。" * 1200
    assert "".join(fold(chinese, 3000)) == chinese.strip() and all(c.endswith("。") for c in fold(chinese, 3000))


def test_web_command_serves_healthz(tmp_path, slack_api):
    env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
           "SLACK_API_URL": slack_api.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}"}
    with (WebProcess(env, stderr=subprocess.DEVNULL) as web,
          urllib.request.urlopen(f"{web.url}/healthz", timeout=2) as response):
        assert json.loads(response.read()) == {"status": "ok"}


def test_rate_limited_and_failing_web_api_calls_are_retried(started, server, slack_api, db):
    slack_api.fail_next("chat.update", 429, {"Retry-After": "1"})
    slack_api.fail_next("chat.postMessage", 500)
    status, _ = send_interaction(server, block_action("walk_not_met", f"{started}|P1.1"))
    assert status == 200 and walks.load(db, started).answer("P1.1").status == "not_met"
    update = slack_api.wait_for("chat.update", timeout=15)[0]
    assert "Answered not met by <@UALICE>." in texts(update["blocks"])
    posted = slack_api.wait_for("chat.postMessage", 2, timeout=15)[1]
    assert "*P1.2 · APN Program Membership*" in texts(posted["blocks"])
    failed = [name for name, _ in slack_api.calls if name.endswith("!failed")]
    assert failed == ["chat.postMessage!failed", "chat.update!failed"]  # the next item goes first
