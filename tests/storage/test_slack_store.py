"""Slack bookkeeping in storage: membership, item messages, delivery keys."""

from __future__ import annotations

from flows.application import ApplicationState
from storage import slack as slack_store
from storage import walks

TEAM = "T0TEAM"


def start(db, now, partner="Acme", channel="CTEAM"):
    return walks.start(db, ApplicationState(partner=partner, delivery_type="saas", checklist_id="aws-retail-competency",
                                            language="en"), "UALICE", now, team_id=TEAM, channel_id=channel)


def test_membership_says_who_may_change_an_application(db, now):
    state = start(db, now)
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], now)
    assert slack_store.membership(db, TEAM, state.id, "UALICE") == slack_store.Membership(
        state.id, "en", "CTEAM", now, True)
    assert slack_store.membership(db, TEAM, state.id, "UMALLORY").may_change is False
    elsewhere = slack_store.membership(db, "T0OTHER", state.id, "UALICE")  # another workspace's member
    assert elsewhere is None or not elsewhere.may_change
    assert slack_store.membership(db, TEAM, state.id + 1, "UALICE") is None
    slack_store.member_left(db, TEAM, "CTEAM", "UALICE")
    assert slack_store.membership(db, TEAM, state.id, "UALICE").may_change is False


def test_an_item_message_is_plain_values(db, now):
    state = start(db, now)
    slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1")
    found = slack_store.item_message(db, TEAM, "CTEAM", "1700000000.000100")
    assert found == slack_store.ItemMessage(TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1")
    assert slack_store.item_message(db, TEAM, "CTEAM", "1700000000.000200") is None


def test_a_delivery_is_applied_once(db, now):
    state = start(db, now)
    first = walks.answer_from_slack(db, state.id, "P1.1", "yes", "UALICE", "action:1", now)
    assert first.state.answer("P1.1").status == "met"
    assert walks.answer_from_slack(db, state.id, "P1.1", "no", "UALICE", "action:1", now) is None
    assert walks.load(db, state.id).answer("P1.1").status == "met"
