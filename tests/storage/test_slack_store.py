"""Slack bookkeeping in storage: membership, item messages, delivery keys."""

from __future__ import annotations

from flows.application import ApplicationState
from storage import slack as slack_store
from storage import walks
from storage.applications import history

TEAM = "T0TEAM"


def start(db, now, partner="Acme", channel="CTEAM"):
    return walks.start(db, ApplicationState(partner=partner, delivery_type="saas", checklist_id="aws-retail-competency",
                                            language="en"), "UALICE", now, team_id=TEAM, channel_id=channel)


def test_membership_says_who_may_change_an_application(db, now):
    state = start(db, now)
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], now)
    alice = slack_store.membership(db, TEAM, state.id, "UALICE")
    assert (alice.application_id, alice.language, alice.channel_id, alice.synced_at, alice.may_change) == (
        state.id, "en", "CTEAM", now, True)
    assert alice.state == walks.load(db, state.id)  # the state comes with the check, as stored
    walks.step(db, state.id, "yes", "alice", now)
    assert slack_store.membership(db, TEAM, state.id, "UALICE").version == alice.version + 1
    assert slack_store.membership(db, TEAM, state.id, "UMALLORY").may_change is False
    elsewhere = slack_store.membership(db, "T0OTHER", state.id, "UALICE")  # another workspace's member
    assert elsewhere is None or not elsewhere.may_change
    assert slack_store.membership(db, TEAM, state.id + 1, "UALICE") is None
    slack_store.member_left(db, TEAM, "CTEAM", "UALICE")
    assert slack_store.membership(db, TEAM, state.id, "UALICE").may_change is False


def test_an_item_message_is_plain_values(db, now):
    state = start(db, now)
    assert slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1") is None
    found = slack_store.item_message(db, TEAM, "CTEAM", "1700000000.000100")
    assert found == slack_store.ItemMessage(TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1")
    assert slack_store.item_message(db, TEAM, "CTEAM", "1700000000.000200") is None


def test_remembering_an_item_message_says_which_was_live_until_then(db, now):
    state, other = start(db, now), start(db, now, "Other", "CTEAM")
    slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1")
    slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000150", other.id, "P1.1")  # not its own
    live = slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000200", state.id, "P1.2")
    assert live == slack_store.ItemMessage(TEAM, "CTEAM", "1700000000.000100", state.id, "P1.1")
    assert slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000300", state.id, "P1.3").ts == (
        "1700000000.000200")
    assert slack_store.item_message(db, TEAM, "CTEAM", "1700000000.000300").item_id == "P1.3"


def test_a_message_remembered_late_replaces_the_one_before_it_not_a_later_one(db, now):
    # Two presses in quick succession: the second press's post (…400) is remembered before
    # the first press's (…300). The first must replace …200, never the live …400.
    state = start(db, now)
    slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000200", state.id, "P1.1")
    assert slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000400", state.id, "P1.3").ts == (
        "1700000000.000200")
    late = slack_store.remember_item_message(db, TEAM, "CTEAM", "1700000000.000300", state.id, "P1.2")
    assert late == slack_store.ItemMessage(TEAM, "CTEAM", "1700000000.000200", state.id, "P1.1")


def read(db, state, user="UALICE"):
    """The membership as the check reads it for a button press by ``user``."""
    return slack_store.membership(db, TEAM, state.id, user)


def test_a_delivery_is_applied_once(db, now):
    state = start(db, now)
    first = walks.answer_from_slack(db, read(db, state), "P1.1", "yes", "action:1", now)
    assert first.state.answer("P1.1").status == "met"
    assert walks.answer_from_slack(db, read(db, state), "P1.1", "no", "action:1", now) is None
    assert walks.load(db, state.id).answer("P1.1").status == "met"


def test_a_press_on_a_state_read_before_another_change_keeps_both(db, now):
    state = start(db, now)
    stale = read(db, state)
    walks.answer_from_slack(db, read(db, state, "UBOB"), "P1.2", "no", "action:0", now)  # Bob, in between
    assert walks.answer_from_slack(db, stale, "P1.1", "yes", "action:1", now) is not None
    stored = walks.load(db, state.id)
    assert (stored.answer("P1.1").status, stored.answer("P1.2").status) == ("met", "not_met")
    # The walk moved on from what was stored, as the same presses read afresh move it.
    fresh = start(db, now, "Fresh", "CFRESH")
    slack_store.replace_members(db, TEAM, "CFRESH", ["UALICE"], now)
    for item_id, word, key in (("P1.2", "no", "fresh:0"), ("P1.1", "yes", "fresh:1")):
        walks.answer_from_slack(db, read(db, fresh), item_id, word, key, now)
    assert (stored.cursor, stored.finished) == (walks.load(db, fresh.id).cursor, walks.load(db, fresh.id).finished)
    # The same press again, on a state read before it: still applied once.
    assert walks.answer_from_slack(db, stale, "P1.1", "no", "action:1", now) is None
    assert walks.load(db, state.id).answer("P1.1").status == "met"


def test_a_press_writes_the_same_rows_and_history_as_a_typed_answer(db, now):
    """The one-statement write of a press and the locked write of a line agree."""
    pressed, typed = start(db, now, "Pressed", "CPRESSED"), start(db, now, "Typed", "CTYPED")
    slack_store.replace_members(db, TEAM, "CPRESSED", ["UALICE"], now)
    for item_id, word in (("P1.1", "yes"), ("P1.2", "no"), ("P1.1", "no"), ("P1.3", "yes")):
        found = slack_store.membership(db, TEAM, pressed.id, "UALICE")
        assert walks.answer_from_slack(db, found, item_id, word, f"k{item_id}{word}",
                                       now) is not None
        walks.on_item(db, typed.id, item_id, word, "UALICE", now)
    assert walks.load(db, pressed.id).answers == walks.load(db, typed.id).answers
    assert walks.load(db, pressed.id).cursor == walks.load(db, typed.id).cursor

    def told(application_id):
        return [(change.item_id, change.field, change.old_value, change.new_value, change.actor)
                for change in history(db, application_id)[1:]]  # after "created"

    assert told(pressed.id) == told(typed.id)
    assert [change.field for change in history(db, pressed.id)].count("status") == 4


def test_the_state_a_press_leaves_known_is_the_state_stored(db, now, tmp_path):
    """After each press, the state this process remembers, which the next press uses
    without reading the answers again, is what a fresh read gives, whichever path wrote
    it: the one statement, the locked one after another path's change, an answer given
    again after an upgrade reopened it."""
    from datetime import timedelta

    from flows.checklist import get_checklist, use_folders
    from tests.support.releases import TEXT_CHANGED, write_release

    state = start(db, now, "Known", "CKNOWN")
    slack_store.replace_members(db, TEAM, "CKNOWN", ["UALICE"], now)

    def press(item_id: str, word: str, n: int) -> None:
        found = slack_store.membership(db, TEAM, state.id, "UALICE")
        assert found.state == walks.load(db, state.id)
        assert walks.answer_from_slack(db, found, item_id, word, f"k{n}",
                                       now + timedelta(minutes=n)) is not None
        assert db.known_states.get(state.id).state == walks.load(db, state.id)

    for n, (item_id, word) in enumerate((("P1.1", "yes"), ("P1.2", "no"), ("P1.1", "no"), (TEXT_CHANGED, "yes"))):
        press(item_id, word, n)
    walks.on_item(db, state.id, "P1.2", "evidence https://example.com/plan", "UBOB", now)  # not through a press
    press("P1.3", "na", 10)
    write_release(tmp_path)
    use_folders(tmp_path)
    try:
        walks.upgrade(db, state.id, get_checklist("aws-retail-competency", "2.0"), "UALICE", now)
        assert walks.load(db, state.id).answer(TEXT_CHANGED).previous_status == "met"  # reopened
        press(TEXT_CHANGED, "no", 20)
        assert walks.load(db, state.id).answer(TEXT_CHANGED).previous_status is None
    finally:
        use_folders()
    again = slack_store.membership(db, TEAM, state.id, "UALICE")
    assert again.state is db.known_states.get(state.id).state  # served from what the process knew


def test_a_press_in_another_process_is_read_not_taken_from_what_this_one_knew(db, now):
    """Two processes (two ``Database`` objects on one database): what one knows is not
    used once the other has changed the application."""
    from storage.db import Database

    state = start(db, now, "Shared", "CSHARED")
    slack_store.replace_members(db, TEAM, "CSHARED", ["UALICE"], now)
    first = slack_store.membership(db, TEAM, state.id, "UALICE")
    walks.answer_from_slack(db, first, "P1.1", "yes", "k1", now)
    other = Database(db.url)
    try:
        seen = slack_store.membership(other, TEAM, state.id, "UALICE")
        walks.answer_from_slack(other, seen, "P1.1", "no", "k2", now)
    finally:
        other.engine.dispose()
    assert slack_store.membership(db, TEAM, state.id, "UALICE").state.answer("P1.1").status == "not_met"


def test_a_presumed_membership_is_confirmed_by_the_write_or_nothing_is_written(db, now):
    """A press on what this process knew sends one statement, which writes only for a
    member of the application's channel, in its workspace, on the state known; anything
    else raises and writes nothing, and the press then applies after a check."""
    import pytest

    from storage.errors import MembershipNotConfirmed

    state = start(db, now)
    slack_store.replace_members(db, TEAM, "CTEAM", ["UALICE"], now)
    assert slack_store.presumed_membership(db, TEAM, state.id, "UALICE") is None  # not known yet
    slack_store.membership(db, TEAM, state.id, "UALICE")  # now it is
    if db.is_sqlite:  # a press there takes the application's lock after a check
        assert slack_store.presumed_membership(db, TEAM, state.id, "UALICE") is None
        return

    def presumed(user="UALICE", team=TEAM):
        found = slack_store.presumed_membership(db, team, state.id, user)
        assert found is not None and found.presumed_at is not None
        return found

    for user, team in (("UMALLORY", TEAM), ("UALICE", "T0OTHER")):  # no member; another workspace's user
        before = walks.load(db, state.id)
        with pytest.raises(MembershipNotConfirmed):
            walks.answer_from_slack(db, presumed(user, team), "P1.1", "yes", f"refused:{user}", now)
        assert walks.load(db, state.id) == before and history(db, state.id)[-1].field == "created"

    sent = db.statements.total
    assert walks.answer_from_slack(db, presumed(), "P1.1", "yes", "alice:1", now).state.answer("P1.1").status == "met"
    assert db.statements.total == sent + 1  # the write, which checked the membership too
    assert walks.answer_from_slack(db, presumed(), "P1.1", "yes", "alice:1", now) is None  # Slack's retry

    walks.step(db, state.id, "goto P1.3", "UBOB", now)  # a change this process did not make through a press
    stale = presumed("UMALLORY")
    with pytest.raises(MembershipNotConfirmed):  # changed, and no member: nothing written
        walks.answer_from_slack(db, stale, "P1.2", "no", "mallory:2", now)
    assert walks.load(db, state.id).answer("P1.2").status is None
    # Changed meanwhile (the other web worker wrote, say), by a member: the statement that
    # did not write said so, so the state is read and written without a membership check.
    sent = db.statements.total
    assert walks.answer_from_slack(db, presumed(), "P1.2", "no", "alice:2", now) is not None
    assert db.statements.total == sent + 3  # the write refused, the state read, the write
    stored = walks.load(db, state.id)
    assert (stored.answer("P1.1").status, stored.answer("P1.2").status) == ("met", "not_met")
    assert db.known_states.get(state.id).state == stored
