"""The PDM digest end to end: loading (query count), posting to the stand-in Web API,
once per slot, retried after a failure, the slash commands, and the terminal form."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, select

from bot.config import DigestSettings, SlackSettings
from bot.digest import build_digests, pdm_channels
from bot.slack.digest import digest_messages, post_due_digests
from bot.slack.web_api import web_client
from flows.application import ApplicationState
from flows.digest import DigestChannel
from storage import applications, digests, models, walks
from storage import slack as slack_store
from tests.support.cli import ROOT
from tests.support.seed import seed
from tests.support.slack import BOT_TOKEN, TEAM, FakeSlackAPI, send_form, slash_command, texts
from tests.support.wait import wait_until

MONDAY = datetime(2026, 11, 30, 9, 5, tzinfo=timezone.utc)  # five minutes after the default slot
SETTINGS = DigestSettings(pdm_channel="")


def start(db, partner: str, pdm: str, language: str = "zh", now: datetime = MONDAY - timedelta(days=1)) -> int:
    state = walks.start(db, ApplicationState(partner=partner, delivery_type="saas",
                                             checklist_id="aws-retail-competency",
                                             target_audit_date=date(2027, 3, 1)), "UALICE", now, TEAM, "CTEAM")
    digests.set_pdm_channel(db, state.id, DigestChannel(pdm, TEAM, language=language), "UALICE", now)
    return state.id


def count_queries(db, work) -> int:
    """SELECT statements only: how transactions begin is the session's business."""
    statements = []

    def counted(*args) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return len(statements)


def test_the_query_count_does_not_grow_with_the_applications(db):
    def generate() -> None:
        for digest in build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY):
            assert digest.applications

    seed(db, 10, MONDAY, channels=3)
    with_ten = count_queries(db, generate)
    seed(db, 990, MONDAY, channels=3, rng_seed=2)
    with_a_thousand = count_queries(db, generate)
    assert with_ten == with_a_thousand == 9  # two for the channels, seven for their digests
    assert sum(len(d.applications) for d in build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY)) == 1000


@pytest.fixture
def web(slack_api):
    client = web_client(SlackSettings.from_env("digest", {"SLACK_BOT_TOKEN": BOT_TOKEN,
                                                          "SLACK_API_URL": slack_api.url}), BOT_TOKEN)
    return lambda team_id: client


def test_one_parent_and_a_threaded_reply_per_application(db, slack_api, web):
    start(db, "Acme Retail", "CPDM", "en")
    start(db, "Beta Shops", "CPDM", "en")
    posted = post_due_digests(db, web, MONDAY, settings=SETTINGS)
    assert [(p.channel_id, bool(p.ts)) for p in posted] == [("CPDM", True)]
    parent, *replies = slack_api.sent("chat.postMessage")
    assert parent["channel"] == "CPDM" and "thread_ts" not in parent
    summary = texts(parent["blocks"])
    assert "*AWS Retail Competency digest, 30 Nov 2026*" in summary
    assert "Applications: 2 · audit-ready: 0 · with evidence expiring within 30 days: 0" in summary
    assert "In the last 7 days: 2 application(s) changed" in summary and "2 new application(s)" in summary
    assert [r["thread_ts"] for r in replies] == [posted[0].ts] * 2
    acme = texts(replies[0]["blocks"])
    assert "*Acme Retail* · SaaS · target audit date 1 Mar 2027" in acme
    assert "Not audit-ready on 1 Mar 2027: 65 blocking gap(s)." in acme
    assert "- Not answered (62): P1.1, P1.2" in acme and "New application." in acme
    with db.session() as session:
        log = session.scalars(select(models.DigestLog)).one()
    assert (log.status, log.ts, log.key) == ("posted", posted[0].ts, "digest:T0TEAM:CPDM:2026-11-30T09:00+00:00")


def test_a_slot_posts_once_however_often_the_clock_calls(db, slack_api, web):
    start(db, "Acme Retail", "CPDM")
    assert len(post_due_digests(db, web, MONDAY, settings=SETTINGS)) == 1
    assert post_due_digests(db, web, MONDAY, settings=SETTINGS) == []
    assert post_due_digests(db, web, MONDAY + timedelta(minutes=10), settings=SETTINGS) == []
    assert len(slack_api.sent("chat.postMessage")) == 2  # the parent and Acme's reply
    # Two days late (the clock was down): this week is skipped, next Monday posts.
    assert post_due_digests(db, web, MONDAY + timedelta(days=8), settings=SETTINGS) == []
    assert len(post_due_digests(db, web, MONDAY + timedelta(days=7), settings=SETTINGS)) == 1


def test_a_failed_post_is_retried_at_the_next_call(db, slack_api, web):
    start(db, "Acme Retail", "CPDM")
    from bot.slack.client import RETRIES

    for _ in range(RETRIES + 1):  # the first try and the client's retries, each after looking in the channel
        slack_api.fail_next("chat.postMessage", 500)
    [failed] = post_due_digests(db, web, MONDAY, settings=SETTINGS)
    assert failed.ts is None and slack_api.sent("chat.postMessage") == []
    [retried] = post_due_digests(db, web, MONDAY + timedelta(minutes=5), settings=SETTINGS)
    assert retried.ts and retried.key == failed.key
    assert len(slack_api.sent("chat.postMessage")) == 2
    assert post_due_digests(db, web, MONDAY + timedelta(minutes=10), settings=SETTINGS) == []


def test_changes_since_the_last_posted_digest_come_from_the_history(db, slack_api, web):
    acme = start(db, "Acme Retail", "CPDM", "en")
    walks.step(db, acme, "no", "UBOB", MONDAY - timedelta(hours=1))  # P1.1, before the first digest
    post_due_digests(db, web, MONDAY, settings=SETTINGS)
    walks.step(db, acme, "goto P1.2", "UBOB", MONDAY + timedelta(days=1))
    walks.step(db, acme, "yes", "UBOB", MONDAY + timedelta(days=1))
    [digest] = build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY + timedelta(days=7))
    assert not digest.first and digest.since == MONDAY
    [application] = digest.applications
    assert [(c.item.id, c.old, c.new) for c in application.status_changes] == [("P1.2", None, "met")]
    assert not application.created


def test_an_application_with_many_gaps_is_split_under_the_limits(db, slack_api, web):
    acme = start(db, "Acme Retail", "CPDM", "en")
    long_name = "Very Long Customer Name " * 8  # 192 characters, shown in each of its findings
    with db.session() as session:
        session.execute(insert(models.CaseStudy), [
            {"application_id": acme, "customer_name": f"{long_name}{n:03d}", "in_production": False}
            for n in range(150)
        ])
    post_due_digests(db, web, MONDAY, settings=SETTINGS)
    parent, *replies = slack_api.sent("chat.postMessage")
    assert len(replies) >= 2  # one application, continued in a second reply of the thread
    sections = [block["text"]["text"] for reply in replies for block in reply["blocks"]]
    assert all(reply["thread_ts"] == replies[0]["thread_ts"] and len(reply["blocks"]) <= 50 for reply in replies)
    assert all(len(text) <= 3000 for text in sections)
    for n in range(150):  # every finding whole, in one section
        whole = [t for t in sections if f"Case study {n + 1} ({long_name}{n:03d}) is missing: customer website;" in t]
        assert len(whole) == 1, n


def test_set_pdm_channel_records_history_and_creates_the_channel_once(db):
    acme = start(db, "Acme Retail", "CPDM", "en")
    beta = start(db, "Beta Shops", "CPDM", "zh")  # the channel exists: its settings stay
    with db.session() as session:
        channel = session.scalars(select(models.PdmChannel)).one()
        assert ((channel.channel_id, channel.language, channel.digest_day, channel.digest_hour)
                == ("CPDM", "en", "mon", 9))
    entries = [(e.field, e.old_value, e.new_value) for e in applications.history(db, beta)]
    assert ("pdm_channel", "", "CPDM") in entries
    assert walks.load(db, acme).pdm_channel == "CPDM"


def test_pdm_channel_default_from_the_environment(db):
    state = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas",
                                             checklist_id="aws-retail-competency"), "UALICE", MONDAY, TEAM, "CTEAM")
    assert pdm_channels(db, SETTINGS) == []
    default = DigestSettings(pdm_channel="CDEFAULT")
    [channel] = pdm_channels(db, default)
    assert channel.channel_id == "CDEFAULT" and channel.language == "zh"
    [digest] = build_digests(db, [channel], default, MONDAY)
    assert [a.readiness.state.id for a in digest.applications] == [state.id]


# -- Slack: /competency pdm and /competency digest over signed HTTP ----------------------


def test_pdm_command_sets_the_channel(started, server, slack_api, db):
    status, body = send_form(server, slash_command("pdm <#CPDM|retail-pdms>"))
    assert status == 200
    assert "PDM channel of Acme Retail: <#CPDM>. Its digest is posted there every Monday at 09:00 (UTC)." in body
    assert walks.load(db, started).pdm_channel == "CPDM"
    assert slack_api.wait_for("conversations.members", 2)[1]["channel"] == "CPDM"
    status, body = send_form(server, slash_command("pdm"))
    assert "Usage: /competency pdm #channel" in body and "Now: <#CPDM>." in body


def test_pdm_command_is_for_members_only(started, server, slack_api, db):
    _, body = send_form(server, slash_command("pdm <#CPDM|x>", user="UMALLORY"))
    assert "Only members of the application's channel" in body
    assert walks.load(db, started).pdm_channel == ""


def test_digest_command_sends_the_pdm_a_dm(started, server, slack_api, db):
    slack_api.members["CPDM"] = ["UPAM"]
    send_form(server, slash_command("pdm <#CPDM|retail-pdms>"))
    # The PDM channel's members are stored after Slack answers: wait for them, not for the call.
    wait_until(lambda: "CPDM" in slack_store.channels_of(db, TEAM, "UPAM"), "the PDM channel's members stored")
    posted_before = len(slack_api.sent("chat.postMessage"))
    status, body = send_form(server, slash_command("digest", user="UPAM", channel="CELSEWHERE"))
    assert status == 200 and "Sending you the digest of <#CPDM> by direct message." in body
    assert slack_api.wait_for("conversations.open", timeout=30)[0]["users"] == "UPAM"
    parent, reply = slack_api.wait_for("chat.postMessage", posted_before + 2, timeout=30)[posted_before:]
    assert parent["channel"] == "DUPAM" and reply["thread_ts"] and reply["channel"] == "DUPAM"
    assert "*Acme Retail*" in texts(reply["blocks"])
    with db.session() as session:  # on demand: not the channel's digest
        assert session.scalars(select(models.DigestLog)).all() == []


def test_digest_command_refuses_someone_in_no_pdm_channel(started, server, slack_api):
    send_form(server, slash_command("pdm <#CPDM|retail-pdms>"))
    _, body = send_form(server, slash_command("digest", user="UBOB"))
    assert "You are not in any PDM channel." in body


def test_help_lists_the_digest_commands(started, server):
    _, body = send_form(server, slash_command("help"))
    assert "/competency pdm #channel" in body and "/competency digest" in body


# -- the command line --------------------------------------------------------------------


def bot(db, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": db.url, **env}
    environment.pop("SLACK_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**environment, **env}, timeout=120)


def test_print_in_english_and_chinese(db):
    start(db, "Acme Retail", "CPDMEN", "en")
    start(db, "北京零售", "CPDMZH", "zh")
    result = bot(db, "digest", "--now", "2026-11-30T09:00:00+00:00")
    assert result.returncode == 0, result.stderr
    english, chinese = result.stdout.split("#CPDMZH")
    assert "PDM channel #CPDMEN" in english and "Acme Retail · SaaS · target audit date 1 Mar 2027" in english
    assert "Prerequisites: 0/14 answered" in english and "- Not answered (62): P1.1" in english
    assert "北京零售" in chinese and "2027年3月1日" in chinese and "先决条件：已回答 0/14" in chinese
    assert "*" not in result.stdout and "&lt;" not in result.stdout  # plain text, not mrkdwn
    only = bot(db, "digest", "--print", "--channel", "CPDMEN", "--now", "2026-11-30T09:00:00+00:00")
    assert "Acme Retail" in only.stdout and "北京零售" not in only.stdout


def test_post_without_a_token_names_it(db):
    start(db, "Acme Retail", "CPDM")
    result = bot(db, "digest", "--post")
    assert result.returncode == 2 and "SLACK_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_post_from_the_command_line(db):
    api = FakeSlackAPI()
    try:
        start(db, "Acme Retail", "CPDM")
        args = ("digest", "--post", "--now", "2026-12-02T15:00:00+00:00")  # Wednesday: still this week's
        result = bot(db, *args, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=api.url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("CPDM: posted, ts ")
        assert len(api.sent("chat.postMessage")) == 2
        again = bot(db, *args, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=api.url)
        assert "already posted" in again.stdout and len(api.sent("chat.postMessage")) == 2
    finally:
        api.close()


def test_partner_text_cannot_ping_the_pdm_channel(db):
    start(db, "<!channel> & Acme", "CPDM", "en")
    [digest] = build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY)
    _, [reply] = digest_messages(digest)
    shown = texts(reply["blocks"])
    assert "<!channel>" not in shown and "*&lt;!channel&gt; &amp; Acme*" in shown


def test_the_digest_counts_sign_offs_and_lists_the_items_not_signed_off(db):
    """Sign-off (issue 18), read by the digest's own loading path: signed-off counts per
    part, the met items not signed off apart, and blocking when sign-off is required."""
    acme = start(db, "Acme Retail", "CPDM", "en")
    day = MONDAY - timedelta(hours=2)
    walks.change(db, acme, "reviewers", ("UBOB",), "UALICE", day)
    for item_id in ("P1.2", "P1.3"):
        walks.on_item(db, acme, item_id, "yes", "UALICE", day)
        walks.on_item(db, acme, item_id, f"evidence https://x.example/{item_id}", "UALICE", day)
    walks.on_item(db, acme, "P1.2", "approve", "UBOB", day)

    def reply() -> str:
        [digest] = build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY)
        return texts(digest_messages(digest)[1][0]["blocks"])

    shown = reply()
    assert "Signed off: Prerequisites 1/2 · Documents 0/0 · Technical validation 0/0" in shown
    assert "Met, not signed off (1): P1.3" in shown and "required for the verdict" not in shown
    walks.change(db, acme, "require_sign_off", True, "UALICE", day)
    assert "Met, not signed off (1): P1.3 · *sign-off is required for the verdict*" in reply()
