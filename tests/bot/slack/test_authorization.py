"""Who may do what: a channel member, a non-member, a PDM of the application's PDM
channel, and a user of another workspace, for every action (see SECURITY.md)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.config import SlackSettings
from bot.slack.server import create_web_app
from flows.application import ApplicationState
from storage import slack as slack_store
from storage import walks
from tests.support.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    BotServer,
    FakeSlackAPI,
    block_action,
    send_event,
    send_form,
    send_interaction,
    slash_command,
    view_submission,
)

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
MEMBER, OUTSIDER, PDM, STRANGER = "UALICE", "UMALLORY", "UPDM", "UEVE"
OTHER_TEAM = "T0OTHER"
ACTORS = {  # who: (user, workspace, channel they type in)
    "member": (MEMBER, TEAM, "CTEAM"),
    "non-member": (OUTSIDER, TEAM, "CTEAM"),
    "pdm": (PDM, TEAM, "CPDM"),
    "other workspace": (STRANGER, OTHER_TEAM, "CTEAM"),
}


@pytest.fixture
def world(db):
    api = FakeSlackAPI()
    api.members["CPDM"] = [PDM]
    api.members["CTEAM"] = [MEMBER, "UBOB"]
    settings = SlackSettings.from_env("web", {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                                              "SLACK_API_URL": api.url})
    server = BotServer(create_web_app(settings, db))
    state = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas", checklist_id="aws-retail-competency",
                                             language="en"), MEMBER, NOW, team_id=TEAM, channel_id="CTEAM")
    slack_store.replace_members(db, TEAM, "CTEAM", [MEMBER, "UBOB"], NOW)
    status, body = send_form(server, slash_command("pdm <#CPDM|partner-managers>", user=MEMBER))
    assert status == 200
    yield server, api, db, state.id
    server.close()
    api.close()


def interaction(payload: dict, team: str) -> dict:
    payload["team"]["id"] = team
    payload["user"]["team_id"] = team
    return payload


def command(text: str, actor: str) -> dict:
    user, team, channel = ACTORS[actor]
    return {**slash_command(text, user=user, channel=channel), "team_id": team}


@pytest.mark.parametrize("known", [False, True], ids=["read", "known to the process"])
@pytest.mark.parametrize("actor,allowed", [("member", True), ("non-member", False), ("pdm", False),
                                           ("other workspace", False)])
def test_answer(world, actor, allowed, known):
    """Known: the process has read the application, so on PostgreSQL the press's write
    checks the membership itself (storage.slack.presumed_membership)."""
    server, api, db, application_id = world
    user, team, _ = ACTORS[actor]
    if known:
        slack_store.membership(db, TEAM, application_id, MEMBER)
    action = block_action("walk_met", f"{application_id}|P1.1", user=user, response_url=api.response_url)
    assert send_interaction(server, interaction(action, team))[0] == 200
    assert (walks.load(db, application_id).answer("P1.1").status == "met") is allowed
    if not allowed:
        assert "Only members of the application's channel" in api.wait_for("response_url")[0]["text"]


@pytest.mark.parametrize("actor,allowed", [("member", True), ("non-member", False), ("pdm", False),
                                           ("other workspace", False)])
def test_add_evidence(world, actor, allowed):
    server, api, db, application_id = world
    user, team, _ = ACTORS[actor]
    values = {"link": {"value": {"value": "https://x.example/doc"}}, "note": {"value": {"value": ""}}}
    metadata = {"a": application_id, "i": "P1.2", "c": "CTEAM", "ts": ""}
    payload = view_submission("evidence_modal", values, metadata, user=user)
    payload["team"]["id"] = team
    status, body = send_interaction(server, payload)
    assert status == 200
    stored = walks.load(db, application_id).answer("P1.2").evidence
    assert bool(stored) is allowed
    if not allowed:
        assert "Only members" in json.loads(body)["errors"]["link"]


@pytest.mark.parametrize("action", ["assign P1.1 <@UBOB>", "export"])
@pytest.mark.parametrize("actor,allowed", [("member", True), ("non-member", False), ("pdm", False),
                                           ("other workspace", False)])
def test_assign_and_export(world, actor, allowed, action):
    server, api, db, application_id = world
    status, body = send_form(server, command(action, actor))
    assert status == 200
    if action.startswith("assign"):
        assert (walks.load(db, application_id).answer("P1.1").assignee == "UBOB") is allowed
    elif allowed:
        assert api.wait_for("files.getUploadURLExternal")
    else:
        # An upload would come after the acknowledgement: a member's export, sent after
        # the refused one, marks when it would have been done; then only the member's is there.
        assert send_form(server, command("export", "member"))[0] == 200
        api.wait_for("files.completeUploadExternal")
        assert len(api.sent("files.getUploadURLExternal")) == 1
    if not allowed:
        assert "Only members" in body or "/competency start" in body  # refused, or no application there


@pytest.mark.parametrize("actor,allowed", [("member", False), ("non-member", False), ("pdm", True),
                                           ("other workspace", False)])
def test_digest(world, actor, allowed):
    server, api, db, application_id = world
    user, _, _ = ACTORS[actor]
    status, body = send_form(server, command("digest", actor))
    assert status == 200
    if allowed:
        posted = api.wait_for("chat.postMessage", count=2)  # the summary, then Acme's reply in its thread
        assert posted[0]["channel"] == f"D{user}" and "Acme" in json.dumps(posted)
    else:
        # A digest would be posted after the acknowledgement: the PDM's own, asked for after
        # the refused one, marks when it would have been done; then only the PDM's is there.
        assert send_form(server, command("digest", "pdm"))[0] == 200
        api.wait_for("chat.postMessage", count=2)
        assert {m["channel"] for m in api.sent("chat.postMessage") if "Acme" in json.dumps(m)} == {f"D{PDM}"}
        assert len(api.sent("chat.postMessage")) == 2


@pytest.mark.parametrize("actor,sees", [("member", True), ("non-member", False), ("pdm", False),
                                        ("other workspace", False)])
def test_app_home(world, actor, sees):
    server, api, db, application_id = world
    user, team, _ = ACTORS[actor]
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
    body_team = {"team_id": team}
    status, _ = send_event(server, event, f"EvHome{actor}", team=body_team["team_id"])
    assert status == 200
    view = api.wait_for("views.publish")[-1]["view"]
    assert ("Acme" in json.dumps(view)) is sees


# -- sign-off (issue 18): the reviewer joins the matrix ------------------------------------

REVIEWER = "UREV"
SIGNERS = {  # who: (user, workspace); the answerer is a reviewer too, judging their own item
    "member": ("UBOB", TEAM),
    "reviewer": (REVIEWER, TEAM),
    "answerer": (MEMBER, TEAM),
    "non-member": (OUTSIDER, TEAM),
    "other workspace": (STRANGER, OTHER_TEAM),
}
SIGN_OFF_ALLOWED = [("member", False), ("reviewer", True), ("answerer", False), ("non-member", False),
                    ("other workspace", False)]


@pytest.fixture
def reviewed(world):
    """P1.2 met by the member, with the member's evidence; the reviewers are the member and UREV."""
    server, api, db, application_id = world
    api.members["CTEAM"].append(REVIEWER)
    slack_store.replace_members(db, TEAM, "CTEAM", [MEMBER, "UBOB", REVIEWER], NOW)
    walks.change(db, application_id, "reviewers", (MEMBER, REVIEWER), MEMBER, NOW)
    walks.on_item(db, application_id, "P1.2", "yes", MEMBER, NOW)
    walks.on_item(db, application_id, "P1.2", "evidence https://x.example/tier.pdf", MEMBER, NOW)
    return world


@pytest.mark.parametrize("actor,allowed", SIGN_OFF_ALLOWED)
def test_approve(reviewed, actor, allowed):
    server, api, db, application_id = reviewed
    user, team = SIGNERS[actor]
    action = block_action("signoff_approve", f"{application_id}|P1.2", user=user, response_url=api.response_url)
    assert send_interaction(server, interaction(action, team))[0] == 200
    review = walks.load(db, application_id).answer("P1.2").review
    assert (review is not None and review.approved and review.by == user) is allowed
    if actor in ("member", "answerer"):  # refused by the rules, with the reason
        said = api.wait_for("response_url")[0]["text"]
        assert ("Only a reviewer" if actor == "member" else "You answered P1.2 yourself") in said


@pytest.mark.parametrize("actor,allowed", SIGN_OFF_ALLOWED)
def test_request_changes(reviewed, actor, allowed):
    server, api, db, application_id = reviewed
    user, team = SIGNERS[actor]
    values = {"reason": {"value": {"type": "plain_text_input", "value": "The tier letter is from 2019."}}}
    payload = view_submission("signoff_changes_modal", values, {"a": application_id, "i": "P1.2", "c": "CTEAM",
                                                                 "ts": ""}, user=user)
    payload["team"]["id"] = team
    status, body = send_interaction(server, payload)
    assert status == 200
    review = walks.load(db, application_id).answer("P1.2").review
    assert (review is not None and review.reason == "The tier letter is from 2019.") is allowed
    if actor in ("member", "answerer", "non-member"):
        error = json.loads(body)["errors"]["reason"]
        assert {"member": "Only a reviewer", "answerer": "You answered P1.2 yourself",
                "non-member": "Only members"}[actor] in error


@pytest.mark.parametrize("actor,allowed", [("member", True), ("reviewer", True), ("answerer", True),
                                           ("non-member", False), ("other workspace", False)])
def test_review_list(reviewed, actor, allowed):
    server, api, db, application_id = reviewed
    user, team = SIGNERS[actor]
    status, body = send_form(server, {**slash_command("review", user=user), "team_id": team})
    assert status == 200
    assert ("signoff_approve" in body and "tier.pdf" in body) is allowed
    if not allowed:
        assert "Only members" in body or "/competency start" in body
