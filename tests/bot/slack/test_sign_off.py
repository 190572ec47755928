"""Sign-off in Slack (issue 18), over signed HTTP into the real Bolt app: reviewers named
by the slash command, Approve and Request changes on the item's message and in the review
list, the reason form, and the DMs that tell the reviewer and the answerer."""

from __future__ import annotations

import json

from storage import walks
from storage.applications import history
from tests.support.slack import (
    block_action,
    item_message_ts,
    send_event,
    send_form,
    send_interaction,
    slash_command,
    texts,
    view_submission,
)
from tests.support.wait import wait_until


def matching(api, method: str, matches, count: int = 1) -> list[dict]:
    """The calls of ``method`` that ``matches``, once there are ``count`` (10 s at most)."""
    def found() -> list[dict] | None:
        calls = [params for params in api.sent(method) if matches(params)]
        return calls if len(calls) >= count else None

    return wait_until(found, f"{count} matching {method} call(s)", timeout=10)


def first(api, method: str, matches) -> dict:
    return matching(api, method, matches)[0]


def after(api, method: str, count: int) -> dict:
    """The call of ``method`` after the first ``count``, waiting for it."""
    return api.wait_for(method, count + 1)[count]


def actions_of(blocks: list[dict]) -> list[str]:
    return [element["action_id"] for block in blocks if block["type"] == "actions" for element in block["elements"]]


def met_with_evidence(db, application_id: int, now, item_id: str = "P1.2", user: str = "UALICE") -> None:
    walks.on_item(db, application_id, item_id, "yes", user, now)
    walks.on_item(db, application_id, item_id, "evidence https://x.example/tier.pdf", user, now)


def reason_form(application_id: int, reason: str, user: str = "UBOB", ts: str = "") -> dict:
    values = {"reason": {"value": {"type": "plain_text_input", "value": reason}}}
    return view_submission("signoff_changes_modal", values, {"a": application_id, "i": "P1.2", "c": "CTEAM", "ts": ts},
                           user=user)


def test_reviewers_are_named_by_mention_and_must_be_in_the_channel(started, server, slack_api, db):
    status, body = send_form(server, slash_command("reviewers <@UBOB|bob>"))
    assert status == 200 and "the list of reviewers is now <@UBOB>" in body
    assert walks.load(db, started).reviewers == ("UBOB",)
    _, body = send_form(server, slash_command("reviewers <@UMALLORY|mallory>"))
    assert "<@UMALLORY> is not in this channel" in body and walks.load(db, started).reviewers == ("UBOB",)
    _, body = send_form(server, slash_command("reviewers required"))
    assert "required for the verdict" in body and walks.load(db, started).require_sign_off
    _, body = send_form(server, slash_command("reviewers"))
    assert "Usage: /competency reviewers" in body
    _, body = send_form(server, slash_command("reviewers none"))
    assert walks.load(db, started).reviewers == ()
    assert [c.field for c in history(db, started)][-3:] == ["reviewers", "require_sign_off", "reviewers"]


def test_the_item_message_is_approved_in_place(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    send_form(server, slash_command("goto P1.2"))
    ts = item_message_ts(db, "P1.2")

    def update_of_p12(count: int) -> dict:
        return matching(slack_api, "chat.update", lambda update: update["ts"] == ts, count)[count - 1]

    send_interaction(server, block_action("walk_met", f"{started}|P1.2", message_ts=ts))
    shown = update_of_p12(1)
    assert "signoff_approve" not in actions_of(shown["blocks"])  # no evidence yet: nothing to sign off
    values = {"link": {"value": {"value": "https://x.example/tier.pdf"}}, "note": {"value": {"value": ""}}}
    send_interaction(server, view_submission("evidence_modal", values, {"a": started, "i": "P1.2", "c": "CTEAM",
                                                                        "ts": ts}))
    shown = update_of_p12(2)
    assert {"signoff_approve", "signoff_request_changes"} <= set(actions_of(shown["blocks"]))
    assert "Waiting for sign-off by a reviewer." in texts(shown["blocks"])

    send_interaction(server, block_action("signoff_approve", f"{started}|P1.2", user="UBOB", message_ts=ts,
                                          response_url=slack_api.response_url))
    said = slack_api.wait_for("response_url")[0]
    assert said["text"] == "P1.2 is signed off by <@UBOB>." and said["replace_original"] is False
    shown = update_of_p12(3)
    assert "Signed off by <@UBOB>" in texts(shown["blocks"])
    assert actions_of(shown["blocks"])[-1:] == ["signoff_request_changes"]
    review = walks.load(db, started).answer("P1.2").review
    evidence_id = walks.load(db, started).answer("P1.2").evidence[0].id
    assert (review.decision, review.by, review.evidence_ids) == ("approved", "UBOB", (evidence_id,))
    row = history(db, started)[-1]
    assert (row.field, row.actor, row.new_value) == ("sign_off", "UBOB", f"approved UBOB evidence={evidence_id}")


def test_new_evidence_voids_the_sign_off_and_the_reviewer_is_told(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    met_with_evidence(db, started, now)
    walks.on_item(db, started, "P1.2", "approve", "UBOB", now)
    assert walks.load(db, started).answer("P1.2").review.approved
    values = {"link": {"value": {"value": "https://x.example/tier-2026.pdf"}}, "note": {"value": {"value": ""}}}
    send_interaction(server, view_submission("evidence_modal", values, {"a": started, "i": "P1.2", "c": "CTEAM",
                                                                        "ts": ""}))
    dm = first(slack_api, "chat.postMessage", lambda m: m["channel"] == "DUBOB")
    assert "Your sign-off of P1.2 (Acme Retail) is void" in dm["text"]
    assert walks.load(db, started).answer("P1.2").review is None
    row = next(c for c in reversed(history(db, started)) if c.field == "sign_off")
    assert row.actor == "UALICE" and row.old_value.startswith("approved UBOB") and row.new_value is None


def test_a_changed_answer_voids_the_sign_off_too(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    met_with_evidence(db, started, now)
    walks.on_item(db, started, "P1.2", "approve", "UBOB", now)
    send_interaction(server, block_action("walk_not_met", f"{started}|P1.2"))
    dm = first(slack_api, "chat.postMessage", lambda m: m["channel"] == "DUBOB")
    assert "Your sign-off of P1.2 (Acme Retail) is void" in dm["text"]


def test_changes_are_requested_with_a_reason_and_the_answerer_is_told(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    met_with_evidence(db, started, now)
    forms = len(slack_api.sent("views.open"))  # the start form
    send_interaction(server, block_action("signoff_request_changes", f"{started}|P1.2", user="UBOB"))
    opened = after(slack_api, "views.open", forms)["view"]
    assert opened["callback_id"] == "signoff_changes_modal" and json.loads(opened["private_metadata"])["i"] == "P1.2"
    status, body = send_interaction(server, reason_form(started, "   "))
    assert json.loads(body)["errors"]["reason"] == "This field is required."
    assert walks.load(db, started).answer("P1.2").review is None
    status, body = send_interaction(server, reason_form(started, "The tier letter is from 2019."))
    assert status == 200 and body == ""
    review = walks.load(db, started).answer("P1.2").review
    assert (review.decision, review.by, review.reason) == ("changes_requested", "UBOB", "The tier letter is from 2019.")
    dm = first(slack_api, "chat.postMessage", lambda m: m["channel"] == "DUALICE")
    assert "<@UBOB> requested changes to P1.2 (Acme Retail): The tier letter is from 2019." in dm["text"]
    told = slack_api.wait_for("chat.postEphemeral")[-1]
    assert told["user"] == "UBOB" and "requested changes to P1.2" in told["text"]
    # Marked until it is answered again; new evidence alone keeps the mark.
    walks.on_item(db, started, "P1.2", "evidence https://x.example/tier-2026.pdf", "UALICE", now)
    assert walks.load(db, started).answer("P1.2").review.decision == "changes_requested"
    walks.on_item(db, started, "P1.2", "yes", "UALICE", now.replace(hour=12))
    assert walks.load(db, started).answer("P1.2").review is None


def test_the_review_list_approves_without_leaving_it(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    _, body = send_form(server, slash_command("review", user="UBOB"))
    assert body == "Nothing is waiting for sign-off."
    met_with_evidence(db, started, now, "P1.3")
    met_with_evidence(db, started, now.replace(hour=11), "P1.2")
    _, body = send_form(server, slash_command("review", user="UBOB"))
    listed = json.loads(body)["blocks"]
    shown = texts(listed)
    assert shown.index("*P1.3 ") < shown.index("*P1.2 ")  # oldest first
    assert "https://x.example/tier.pdf" in shown and "answered by <@UALICE>" in shown
    value = next(e["value"] for b in listed if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "signoff_approve")
    assert value == f"{started}|P1.3"
    send_interaction(server, block_action("signoff_approve", value, user="UBOB", message_ts="1700000099.000001",
                                          response_url=slack_api.response_url))
    replaced = slack_api.wait_for("response_url")[0]
    assert replaced["replace_original"] is True and replaced["text"] == "P1.3 is signed off by <@UBOB>."
    again = texts(replaced["blocks"])
    assert "*P1.2 " in again and "*P1.3 " not in again
    _, body = send_form(server, slash_command("status"))
    assert "Prerequisites: 1 of 2 met items" in body


def test_sign_off_speaks_chinese(started, server, slack_api, db, now):
    walks.change(db, started, "language", "zh", "UALICE", now)
    walks.change(db, started, "reviewers", ("UALICE",), "UALICE", now)
    met_with_evidence(db, started, now)
    send_interaction(server, block_action("signoff_approve", f"{started}|P1.2", user="UALICE",
                                          response_url=slack_api.response_url))
    said = slack_api.wait_for("response_url")[0]["text"]
    assert "P1.2 是你自己回答的" in said
    assert walks.load(db, started).answer("P1.2").review is None


def test_app_home_shows_the_sign_offs_per_part_and_what_is_not_signed_off(started, server, slack_api, db, now):
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    walks.change(db, started, "require_sign_off", True, "UALICE", now)
    met_with_evidence(db, started, now, "P1.2")
    met_with_evidence(db, started, now, "P1.3")
    walks.on_item(db, started, "P1.2", "approve", "UBOB", now)
    event = {"type": "app_home_opened", "user": "UALICE", "channel": "DUALICE", "tab": "home"}
    assert send_event(server, event, "EvHomeSignOff")[0] == 200
    shown = texts(slack_api.wait_for("views.publish")[-1]["view"]["blocks"])
    assert "Signed off: Prerequisites 1/2 · Documents 0/0 · Technical validation 0/0" in shown
    assert "Met, not signed off (1): P1.3 · *sign-off is required for the verdict*" in shown


def test_the_words_work_in_an_items_thread_in_chinese(started, server, slack_api, db, now):
    walks.change(db, started, "language", "zh", "UALICE", now)
    walks.change(db, started, "reviewers", ("UBOB",), "UALICE", now)
    met_with_evidence(db, started, now, "P1.1")  # P1.1 asks for no evidence: nothing to sign off
    thread_ts = item_message_ts(db, "P1.1")

    def reply(text: str, event_id: str) -> str:
        event = {"type": "message", "channel": "CTEAM", "user": "UBOB", "text": text, "thread_ts": thread_ts,
                 "ts": f"1700000400.{event_id[2:]}", "channel_type": "channel"}
        before = len(slack_api.sent("chat.postMessage"))
        assert send_event(server, event, event_id)[0] == 200
        return first(slack_api, "chat.postMessage", lambda m: m.get("thread_ts") == thread_ts and
                     slack_api.sent("chat.postMessage").index(m) >= before)["text"]

    assert reply("批准", "Ev501") == "P1.1 不要求证明材料，无需签核。"
    assert reply("需修改", "Ev502") == "需修改 后面要写原因，例如：需修改 T1.24 演练报告没有日期。"
