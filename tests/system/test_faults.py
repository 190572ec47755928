"""Faults, with real processes: killed web and clock processes, a database restart,
and several processes sharing one database. Nothing acknowledged is lost, nothing is
applied or sent twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.reminders import STALE_CLAIM
from flows.application import ApplicationState
from flows.checklist import get_checklist
from storage import models, walks
from storage import slack as slack_store
from tests.support.cli import ROOT
from tests.support.postgres import PrivateCluster, binaries
from tests.support.slack import TEAM, block_action, send_interaction
from tests.support.wait import wait_until
from tests.support.web import WebProcess, web_env

CREATED = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)


def applications(db, count: int, drill: str | None = None) -> list[int]:
    ids = []
    for n in range(count):
        state = walks.start(db, ApplicationState(partner=f"Partner {n}", delivery_type="saas",
                                                 checklist_id="aws-retail-competency", language="en"),
                            "seed", CREATED, team_id=TEAM, channel_id=f"C{n}")
        slack_store.replace_members(db, TEAM, f"C{n}", ["UALICE", "UBOB"], CREATED)
        if drill:
            for line in ("goto T1.24", "yes", "drill report", drill):
                walks.step(db, state.id, line, "seed", CREATED)
        ids.append(state.id)
    return ids


def status_changes(db, application_id: int, item_id: str) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(models.HistoryEntry).where(
            models.HistoryEntry.application_id == application_id, models.HistoryEntry.item_id == item_id,
            models.HistoryEntry.field == "status"))


def test_web_killed_mid_burst_loses_no_acknowledged_answer(db, slack_api):
    [application_id] = applications(db, 1)
    items = [i.id for i in get_checklist().applicable_items("saas") if not i.derived_from][:40]
    web = WebProcess(web_env(db, slack_api))
    acknowledged: list[str] = []
    lock = threading.Lock()

    class Target:
        url = web.url

    def answer(item_id: str) -> None:
        try:
            status, _ = send_interaction(Target, block_action("walk_not_met", f"{application_id}|{item_id}",
                                                               channel="C0"))
        except OSError:
            return
        if status == 200:
            with lock:
                acknowledged.append(item_id)

    threads = [threading.Thread(target=answer, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    time.sleep(0.05)
    web.kill()
    for thread in threads:
        thread.join(timeout=30)
    assert acknowledged, "the burst should have been partly acknowledged before the kill"
    web.start()  # restart: everything acknowledged must be there, once
    try:
        state = walks.load(db, application_id)
        for item_id in acknowledged:
            assert state.answer(item_id).status == "not_met", item_id
            assert status_changes(db, application_id, item_id) == 1, item_id
    finally:
        web.stop()


def test_two_web_processes_apply_a_delivery_once(db, slack_api):
    [application_id] = applications(db, 1)
    first, second = WebProcess(web_env(db, slack_api)), WebProcess(web_env(db, slack_api))
    try:
        payload = block_action("walk_not_met", f"{application_id}|P1.1", channel="C0", action_ts="1700000001.000001")
        results = []
        threads = [threading.Thread(target=lambda web=web: results.append(send_interaction(web, payload)[0]))
                   for web in (first, second, first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200, 200, 200, 200]
        assert status_changes(db, application_id, "P1.1") == 1
    finally:
        for web in (first, second):
            web.stop()


def test_clock_killed_mid_pass_sends_every_reminder_exactly_once(db, slack_api):
    applications(db, 6, drill="2026-03-01")  # expires 2027-03-01: 60-day reminder on 2026-12-31
    slack_api.delay = 0.4
    moment = datetime(2026, 12, 31, 9, 30, tzinfo=timezone.utc)
    env = web_env(db, slack_api)
    run = subprocess.Popen([sys.executable, "-m", "bot", "remind", "--now", moment.isoformat()], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(slack_api.sent("chat.postMessage")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    sent_before = len(slack_api.sent("chat.postMessage"))
    assert 2 <= sent_before < 6, "the kill should land in the middle of the pass"
    slack_api.delay = 0
    later = (moment + STALE_CLAIM + timedelta(minutes=1)).isoformat()  # past the lease of an interrupted claim
    rerun = subprocess.run([sys.executable, "-m", "bot", "remind", "--now", later], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    channels = sorted(m["channel"] for m in slack_api.sent("chat.postMessage"))
    assert channels == [f"C{n}" for n in range(6)]


def test_web_api_outage_keeps_answers_and_retries_posts(db, slack_api):
    [application_id] = applications(db, 1)
    web = WebProcess(web_env(db, slack_api))
    try:
        for _ in range(3):
            slack_api.fail_next("chat.update", 500)
        slack_api.fail_next("chat.postMessage", 429, {"Retry-After": "1"})
        status, _ = send_interaction(web, block_action("walk_met", f"{application_id}|P1.1", channel="C0"))
        assert status == 200
        assert walks.load(db, application_id).answer("P1.1").status == "met"
        posted = slack_api.wait_for("chat.postMessage", 1, timeout=20)
        assert "P1.2" in posted[0]["text"]
    finally:
        stderr = web.stop()
    assert "Traceback" not in stderr


@pytest.mark.skipif(binaries() is None, reason="needs PostgreSQL's initdb (/usr/lib/postgresql/*/bin)")
def test_database_restart_while_serving(slack_api):
    """On a cluster of the test's own: stopping it disturbs nothing else on the machine."""
    from storage.db import Database, upgrade

    cluster = PrivateCluster()
    db = Database(cluster.url)
    try:
        upgrade(db)
        [application_id] = applications(db, 1)
        db.engine.dispose()
        web = WebProcess(web_env(db, slack_api))
        try:
            assert send_interaction(web, block_action("walk_met", f"{application_id}|P1.1", channel="C0"))[0] == 200
            cluster.stop()
            try:
                status, body = send_interaction(web, block_action("walk_met", f"{application_id}|P1.2",
                                                                   channel="C0"))
                assert status == 500 and "Traceback" not in body and "psycopg" not in body
                with pytest.raises(urllib.error.HTTPError) as health:
                    urllib.request.urlopen(web.url + "/healthz", timeout=10)
                assert health.value.code == 503
            finally:
                cluster.start()
            deadline = time.monotonic() + 60
            while True:  # the same process, not restarted, serves again
                status, _ = send_interaction(web, block_action("walk_met", f"{application_id}|P1.3", channel="C0"))
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert status == 200
            assert walks.load(db, application_id).answer("P1.3").status == "met"
            # A restart between two requests: the pooled connections it closed are replaced
            # before use, so the next answer does not fail.
            cluster.stop()
            cluster.start()
            assert send_interaction(web, block_action("walk_met", f"{application_id}|P1.4", channel="C0"))[0] == 200
            assert walks.load(db, application_id).answer("P1.4").status == "met"
        finally:
            web.stop()
    finally:
        db.engine.dispose()
        cluster.remove()


def test_two_processes_post_a_digest_once(db, slack_api):
    for n in range(3):
        walks.start(db, ApplicationState(partner=f"Digest {n}", delivery_type="saas",
                                         checklist_id="aws-retail-competency", language="en", pdm_channel="CPDM"),
                    "seed", CREATED, team_id=TEAM, channel_id=f"CD{n}")
    env = web_env(db, slack_api)
    runs = [subprocess.Popen([sys.executable, "-m", "bot", "digest", "--post", "--now", "2026-11-30T10:00+00:00"],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    parents = [m for m in slack_api.sent("chat.postMessage") if m["channel"] == "CPDM" and not m.get("thread_ts")]
    assert len(parents) == 1
    replies = [m for m in slack_api.sent("chat.postMessage") if m.get("thread_ts")]
    assert len(replies) == 3


def test_two_workers_answer_at_once_each_on_connections_of_its_own(db, slack_api, tmp_path):
    """As the Procfile serves: two worker processes forked from one master, which checked
    the schema (on a connection of its own) before the fork."""
    ids = applications(db, 8)
    items = [i.id for i in get_checklist().applicable_items("saas") if not i.derived_from][:8]
    log = (tmp_path / "web.log").open("w+")
    web = WebProcess(web_env(db, slack_api, WEB_WORKERS="2"), stdout=log, stderr=log)
    try:
        # Healthy once one worker answers; the master forks the second right after.
        children = Path(f"/proc/{web.process.pid}/task/{web.process.pid}/children")
        wait_until(lambda: len(children.read_text().split()) == 2, "the master forked two workers")
        statuses: list[int] = []
        lock = threading.Lock()

        def answer(application_id: int, item_id: str) -> None:
            status, _ = send_interaction(web, block_action("walk_not_met", f"{application_id}|{item_id}",
                                                           channel=f"C{application_id - ids[0]}"))
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=answer, args=(application_id, item_id))
                   for item_id in items for application_id in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses == [200] * len(threads)
        for application_id in ids:
            for item_id in items:
                assert status_changes(db, application_id, item_id) == 1, (application_id, item_id)
    finally:
        web.stop()
    log.seek(0)
    written = log.read()
    assert "Traceback" not in written and "prepared statement" not in written
