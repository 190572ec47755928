"""What a real workspace does that a lenient stand-in would not: mentions as Slack escapes
them, the manifest's scopes, channels the bot cannot reach, concurrent and stale presses,
DMs, thread replies with a subtype, reminders, membership that changes, OAuth, Socket Mode."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.config import SlackSettings
from bot.slack.manifest import bot_scopes
from bot.slack.server import create_web_app
from flows.application import ApplicationState
from storage import slack as slack_store
from storage import walks
from storage.installations import EncryptedInstallationStore, TokenCipher
from tests.support.cli import ROOT
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    START_VALUES,
    TEAM,
    BotServer,
    block_action,
    install,
    item_message_ts,
    send_event,
    send_form,
    send_interaction,
    settings_for,
    slash_command,
    view_submission,
)
from tests.support.wait import wait_until


def answer_buttons(blocks: list[dict]) -> list[str]:
    return [element["action_id"] for block in blocks if block["type"] == "actions"
            for element in block["elements"] if element["action_id"] != "walk_evidence"]


# -- 1. mentions as Slack sends them (should_escape in the manifest) ---------------------


def test_assign_and_pdm_take_mentions_as_typed(started, server, slack_api, db):
    slack_api.members["CPDM"] = ["UPDM"]
    status, body = send_form(server, slash_command("assign T1.19 @bob"))
    assert status == 200 and "T1.19 is assigned to <@UBOB>." in body
    assert walks.load(db, started).answer("T1.19").assignee == "UBOB"
    status, body = send_form(server, slash_command("pdm #pdm-retail"))
    assert status == 200 and "<#CPDM>" in body
    assert walks.load(db, started).pdm_channel == "CPDM"


# -- 2. scopes: one list, the manifest's ------------------------------------------------


def test_oauth_installs_ask_for_exactly_the_manifests_scopes(db, slack_api):
    settings = SlackSettings.from_env("web", {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "shh",
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "SLACK_API_URL": slack_api.url})
    running = BotServer(create_web_app(settings, db))
    try:
        with urllib.request.urlopen(running.url + "/slack/install", timeout=10) as response:
            page = response.read().decode()
    finally:
        running.close()
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', page).group(1).replace("&amp;", "&")
    asked = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["scope"][0].split(",")
    assert asked == bot_scopes() and "files:read" in asked


def test_the_case_study_form_with_its_file_input_opens(started, server, slack_api):
    send_form(server, slash_command("case"))
    view = slack_api.wait_for("views.open", 2)[1]["view"]
    assert any(block.get("element", {}).get("type") == "file_input" for block in view["blocks"])
    # The stand-in refuses a file_input without files:read: the fixture fails on any refusal.


# -- 3. a DM's text waits on the server ---------------------------------------------------


def test_a_long_dm_from_someone_in_two_applications_is_kept_whole(started, server, slack_api, db, now):
    second = walks.start(db, ApplicationState(partner="Beta", delivery_type="saas",
                                              checklist_id="aws-retail-competency", language="zh"),
                         "UALICE", now, team_id=TEAM, channel_id="CBETA")
    slack_store.replace_members(db, TEAM, "CBETA", ["UALICE"], now)
    note = "备注" + "这是一条很长的中文备注，" * 34  # 340 characters: escaped JSON would pass 2,000
    send_event(server, {"type": "message", "channel": "DUALICE", "user": "UALICE", "text": note,
                        "ts": "1700000300.000001", "channel_type": "im"}, "EvLong")
    question = slack_api.wait_for("chat.postMessage", 2)[-1]
    buttons = question["blocks"][1]["elements"]
    assert all(len(button["value"]) < 100 for button in buttons)
    pick = next(button for button in buttons if json.loads(button["value"])["a"] == second.id)
    action = block_action(pick["action_id"], pick["value"], channel="DUALICE")
    send_interaction(server, action)
    slack_api.wait_for("chat.postMessage", 3)
    assert walks.load(db, second.id).answer("P1.1").note == note[2:].strip()
    send_interaction(server, action)  # a second press: the text was applied once
    gone = slack_api.wait_for("chat.postMessage", 4)[-1]
    assert "already applied" in gone["text"] or "已经处理" in gone["text"]


# -- 4. where the bot cannot serve --------------------------------------------------------


@pytest.mark.slack_refusals  # the bot asks about a conversation it cannot see, and hears so
@pytest.mark.parametrize("channel,kind,outside,expected", [
    ("DUALICE", "im", False, "not in a direct message"),
    ("DPEOPLE", "im", True, "invite me first"),
    ("GSECRET", "private", True, "invite me first"),
])
def test_start_is_refused_where_the_bot_cannot_serve(server, slack_api, db, channel, kind, outside, expected):
    slack_api.kinds[channel] = kind
    if outside:
        slack_api.outside.add(channel)
    status, _ = send_form(server, {**slash_command("start", channel=channel),
                                   "response_url": slack_api.response_url})
    told = slack_api.wait_for("response_url")[0]
    assert status == 200 and expected in told["text"]
    assert slack_api.sent("views.open") == [] and walks.in_channel(db, TEAM, channel) == []


def test_start_joins_a_public_channel_it_is_not_in(server, slack_api, db):
    slack_api.outside.add("CNEW")
    send_form(server, slash_command("start", channel="CNEW"))
    slack_api.wait_for("views.open")
    assert slack_api.sent("conversations.join")[0]["channel"] == "CNEW" and "CNEW" not in slack_api.outside


@pytest.mark.slack_refusals
def test_a_form_for_a_channel_the_bot_cannot_read_saves_nothing(server, slack_api, db):
    slack_api.kinds["GGONE"] = "private"
    slack_api.outside.add("GGONE")  # removed from the channel after the form opened
    status, body = send_interaction(server, view_submission("start_modal", START_VALUES, {"c": "GGONE"}))
    assert status == 200 and "invite me first" in json.loads(body)["errors"]["partner"]
    assert walks.find(db, "Acme Retail", TEAM) is None


def test_a_second_start_in_the_same_channel_says_so(started, server, slack_api):
    status, body = send_form(server, slash_command("start"))
    assert status == 200 and "already has an application: Acme Retail" in body
    assert len(slack_api.sent("views.open")) == 1


# -- 5. a Web API failure a person caused is told to them --------------------------------


@pytest.mark.slack_refusals
def test_a_form_slack_refuses_to_open_is_told(started, server, slack_api):
    slack_api.refuse_next("views.open", "invalid_arguments")
    send_form(server, {**slash_command("case"), "response_url": slack_api.response_url})
    told = slack_api.wait_for("response_url")[0]
    assert "Slack refused that (invalid_arguments)" in told["text"]


# -- 6. concurrent and stale presses ---------------------------------------------------------


def test_two_presses_on_one_item_post_the_next_item_once(started, server, slack_api, db):
    ts = item_message_ts(db, "P1.1")
    presses = [block_action("walk_met", f"{started}|P1.1", user="UALICE", message_ts=ts),
               block_action("walk_not_met", f"{started}|P1.1", user="UBOB", message_ts=ts)]
    threads = [threading.Thread(target=send_interaction, args=(server, press)) for press in presses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slack_api.wait_for("chat.update")
    send_form(server, slash_command("status"))  # a later request: both presses are done by its answer
    items = [m for m in slack_api.sent("chat.postMessage") if m.get("blocks") and "P1.2" in m.get("text", "")]
    assert len(items) == 1
    state = walks.load(db, started)
    assert state.cursor == "P1.2" and state.answer("P1.1").status in ("met", "not_met")


def test_a_press_on_an_old_message_changes_that_item_only(started, server, slack_api, db):
    first = item_message_ts(db, "P1.1")
    send_interaction(server, block_action("walk_met", f"{started}|P1.1", message_ts=first))
    slack_api.wait_for("chat.postMessage", 2)
    superseded = slack_api.wait_for("chat.update")[0]
    assert superseded["ts"] == first and answer_buttons(superseded["blocks"]) == []
    send_interaction(server, block_action("walk_back", f"{started}|P1.1", message_ts=first))
    send_interaction(server, block_action("walk_not_met", f"{started}|P1.1", message_ts=first))
    slack_api.wait_for("chat.update", 3)
    state = walks.load(db, started)
    assert state.cursor == "P1.2" and state.answer("P1.1").status == "not_met"
    assert len(slack_api.sent("chat.postMessage")) == 2  # the first item and the second, nothing more


# -- 7. assignees ------------------------------------------------------------------------------


def test_an_assignee_answering_in_their_dm_moves_the_walk_in_the_team_channel(started, server, slack_api, db):
    send_form(server, slash_command("assign P1.1 @bob"))
    dm = slack_api.wait_for("chat.postMessage", 2)[1]
    assert dm["channel"] == "DUBOB"
    send_interaction(server, block_action("walk_met", f"{started}|P1.1", user="UBOB", channel="DUBOB",
                                          message_ts=dm["ts"]))
    following = slack_api.wait_for("chat.postMessage", 3)[2]
    assert following["channel"] == "CTEAM" and "P1.2" in following["text"]


def test_assigning_someone_outside_the_channel_is_refused(started, server, slack_api, db):
    status, body = send_form(server, slash_command("assign T1.19 @carol"))
    assert status == 200 and "is not in this channel" in body
    assert walks.load(db, started).answer("T1.19").assignee == ""


# -- 8. thread replies with a subtype -----------------------------------------------------------


def test_also_send_to_channel_and_shared_files_count_in_an_items_thread(started, server, slack_api, db):
    thread_ts = item_message_ts(db, "P1.1")
    send_event(server, {"type": "message", "subtype": "thread_broadcast", "channel": "CTEAM", "user": "UBOB",
                        "text": "note shown to everyone", "ts": "1700000400.000001", "thread_ts": thread_ts,
                        "channel_type": "channel"}, "EvBroadcast")
    send_event(server, {"type": "message", "subtype": "file_share", "channel": "CTEAM", "user": "UBOB", "text": "",
                        "ts": "1700000400.000002", "thread_ts": thread_ts, "channel_type": "channel",
                        "files": [{"id": "F9", "name": "drill-report.pdf",
                                   "permalink": "https://test.slack.com/files/UBOB/F9/drill-report.pdf"}]},
               "EvFile")
    slack_api.wait_for("chat.postMessage", 3)
    answer = walks.load(db, started).answer("P1.1")
    assert answer.note == "shown to everyone"
    assert [e.text for e in answer.evidence] == [
        "drill-report.pdf https://test.slack.com/files/UBOB/F9/drill-report.pdf"]


# -- 9. "Record new evidence" on a reminder -------------------------------------------------------


def test_evidence_recorded_from_a_reminder_leaves_the_reminder_as_it_was(started, server, slack_api, db):
    reminder_ts = "1700000500.000001"  # a reminder's message: not an item message
    metadata = {"a": started, "i": "P1.2", "c": "CTEAM", "ts": reminder_ts}
    values = {"link": {"value": {"value": "https://partner.example.com/apn"}}, "note": {"value": {"value": ""}}}
    status, body = send_interaction(server, view_submission("evidence_modal", values, metadata))
    assert (status, body) == (200, "")
    reply = slack_api.wait_for("chat.postMessage", 2)[1]
    assert reply["thread_ts"] == reminder_ts
    assert [u for u in slack_api.sent("chat.update") if u["ts"] == reminder_ts] == []


# -- 10. membership kept current ------------------------------------------------------------------


def test_someone_who_joined_unseen_is_let_in_after_a_fresh_read(started, server, slack_api, db):
    slack_api.members["CTEAM"].append("UCAROL")  # joined; the event never arrived
    with db.engine.begin() as connection:  # and the last read is old
        connection.execute(text("UPDATE channel_syncs SET synced_at = '2020-01-01 00:00:00+00:00'"))
    send_interaction(server, block_action("walk_met", f"{started}|P1.1", user="UCAROL"))
    slack_api.wait_for("chat.postMessage", 2)
    assert walks.load(db, started).answer("P1.1").answered_by == "UCAROL"


def test_sync_reads_the_channels_members_again(started, server, slack_api, db):
    slack_api.members["CTEAM"] = ["UALICE", "UBOB", "UCAROL"]
    send_form(server, {**slash_command("sync"), "response_url": slack_api.response_url})
    told = slack_api.wait_for("response_url")[0]
    assert "3" in told["text"] and slack_store.in_application_channel(db, started, "UCAROL")


# -- 11. OAuth: cached authorization, uninstall ---------------------------------------------------


def test_oauth_authorizes_once_and_forgets_tokens_on_uninstall(db, slack_api):
    key = Fernet.generate_key().decode()
    settings = SlackSettings.from_env("web", {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "shh",
        "TOKEN_ENCRYPTION_KEY": key, "SLACK_API_URL": slack_api.url})
    running = BotServer(create_web_app(settings, db))
    try:
        install(running)
        before = len(slack_api.sent("auth.test"))
        for _ in range(3):
            assert send_form(running, {**slash_command("help"), "team_id": "T0NEW"})[0] == 200
        assert len(slack_api.sent("auth.test")) - before <= 1
        send_event(running, {"type": "app_uninstalled"}, "EvGone", team="T0NEW")
        store = EncryptedInstallationStore("111.222", db, TokenCipher(key))
        # Bolt's uninstall listener deletes the bot, then the installation: wait for the second.
        wait_until(lambda: store.find_installation(enterprise_id=None, team_id="T0NEW") is None, "tokens deleted")
        assert store.find_bot(enterprise_id=None, team_id="T0NEW") is None
    finally:
        running.close()


# -- 13. Socket Mode with a bad token -------------------------------------------------------------------


@pytest.mark.slack_refusals
def test_socket_mode_with_a_bad_token_says_which_variable(db, slack_api):
    slack_api.refuse_next("apps.connections.open", "invalid_auth")
    env = {**os.environ, "DATABASE_URL": db.url, "SLACK_APP_TOKEN": "xapp-wrong", "SLACK_BOT_TOKEN": BOT_TOKEN,
           "SLACK_API_URL": slack_api.url}
    run = subprocess.run([sys.executable, "-m", "bot", "socket"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "SLACK_APP_TOKEN" in run.stderr and "invalid_auth" in run.stderr


# -- polish -------------------------------------------------------------------------------------------------


def test_next_after_the_last_item_says_the_walk_is_done(started, server, slack_api, db, now):
    while not walks.load(db, started).finished:
        walks.step(db, started, "no", "UALICE", now)
    status, body = send_form(server, slash_command("next"))
    assert status == 200 and "The walk is done" in body and "Prerequisites" in body


def test_an_over_long_command_is_refused_in_the_channels_language(started, server, slack_api, db):
    with db.session() as session:
        session.execute(text("UPDATE applications SET language = 'zh'"))
    status, body = send_form(server, slash_command("goto " + "x" * 5000))
    assert status == 200 and "字" in body and "characters" not in body


def test_the_start_form_speaks_the_persons_slack_language(server, slack_api):
    slack_api.locales["UALICE"] = "en-GB"
    send_form(server, slash_command("start"))
    view = slack_api.wait_for("views.open")[0]["view"]
    assert view["title"]["text"] == "Start an application"
    slack_api.locales["UBOB"] = "zh-CN"
    send_form(server, slash_command("start", user="UBOB"))
    assert slack_api.wait_for("views.open", 2)[1]["view"]["title"]["text"] == "开始申请"


def test_no_token_warning_at_start(slack_api, db, caplog):
    caplog.set_level("INFO")
    create_web_app(settings_for(slack_api), db)
    assert "will be unused" not in caplog.text


def test_the_test_stand_in_refuses_what_slack_refuses(slack_api):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=BOT_TOKEN, base_url=slack_api.url)
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="CTEAM", text="x", blocks=[
            {"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": "v" * 2001,
                                              "text": {"type": "plain_text", "text": "x"}}]}])
    slack_api.outside.add("GPRIVATE")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="GPRIVATE", text="x")
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        client.chat_postEphemeral(channel="CTEAM", user="UMALLORY", text="x")
    slack_api.calls.clear()  # these refusals were the point


# -- 12. rate limits and retried posts -------------------------------------------------------------------


def test_a_post_slack_made_but_answered_500_appears_once(started, server, slack_api, db):
    slack_api.lose_next_answer("chat.postMessage")
    send_interaction(server, block_action("walk_met", f"{started}|P1.1", message_ts=item_message_ts(db, "P1.1")))
    slack_api.wait_for("conversations.history")  # the client looked before posting again
    send_form(server, slash_command("status"))  # a later request, answered after the first settled
    items = [m for m in slack_api.sent("chat.postMessage") if "P1.2" in m.get("text", "")]
    assert len(items) == 1
    assert item_message_ts(db, "P1.2") == items[0]["ts"]  # remembered from the message Slack has


def test_a_rate_limited_workspace_holds_at_most_two_waiting_threads(slack_api):
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import WAITING_PER_WORKSPACE
    from bot.slack.web_api import web_client

    client = web_client(settings_for(slack_api), BOT_TOKEN)
    for _ in range(4):
        slack_api.fail_next("chat.update", 429, {"Retry-After": "2"})
    outcomes: list[str] = []

    def update() -> None:
        try:
            client.chat_update(channel="CTEAM", ts="1700000000.000001", text="x")
            outcomes.append("updated after waiting")
        except SlackApiError as error:
            outcomes.append(error.response["error"])

    threads = [threading.Thread(target=update) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ratelimited"] * 2 + ["updated after waiting"] * WAITING_PER_WORKSPACE
    slack_api.calls.clear()  # the refused calls were the point


def test_an_operator_erases_a_workspace_that_left(db, now):
    from tests.support.cli import bot

    acme = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas",
                                            checklist_id="aws-retail-competency", language="en"),
                       "UALICE", now, team_id="T0GONE", channel_id="CGONE")
    walks.step(db, acme.id, "yes", "UALICE", now)
    stays = walks.start(db, ApplicationState(partner="Beta", delivery_type="saas",
                                             checklist_id="aws-retail-competency", language="en"),
                        "UBOB", now, team_id=TEAM, channel_id="CTEAM")
    url = db.url.replace("postgresql+psycopg://", "postgresql://")
    refused = bot(url, "erase", "--team", "T0GONE")
    assert refused.returncode == 2 and "--yes" in refused.stderr and walks.find(db, "Acme", "T0GONE") is not None
    done = bot(url, "erase", "--team", "T0GONE", "--yes")
    assert done.returncode == 0 and "1 application" in done.stdout
    assert walks.find(db, "Acme", "T0GONE") is None and walks.load(db, stays.id).partner == "Beta"


@pytest.mark.slack_refusals
def test_a_post_slack_refuses_after_a_form_is_told_to_who_submitted_it(started, server, slack_api):
    slack_api.refuse_next("chat.postMessage", "msg_too_long")
    metadata = {"a": started, "i": "P1.2", "c": "CTEAM", "ts": ""}
    values = {"link": {"value": {"value": "https://partner.example.com/apn"}}, "note": {"value": {"value": ""}}}
    assert send_interaction(server, view_submission("evidence_modal", values, metadata)) == (200, "")
    told = slack_api.wait_for("chat.postEphemeral")[0]
    assert told["user"] == "UALICE" and "Slack refused that (msg_too_long)" in told["text"]
