"""Sign-off in the terminal (issue 18), through the real command line: the reviewer is the
terminal user (--user), the words work in English and Chinese, and a voided sign-off is a
line where the change was made."""

from __future__ import annotations

from tests.bot.test_terminal_walk import exported, run

START = ("chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores", "--audit", "2030-01-01")


def test_a_reviewer_signs_off_in_the_terminal_and_a_change_voids_it(database_url):
    answered = run(database_url, *START, "--lang", "en", "--user", "alice",
                   stdin="set reviewers Bob, Carol\nset sign-off required\nyes\nyes\nhttps://x.example/tier.pdf\n"
                         "approve P1.2\n")
    assert answered.returncode == 0, answered.stderr
    assert "Saved: the list of reviewers is now Bob; Carol (was none)." in answered.stdout
    assert "Only a reviewer of this application can sign P1.2 off." in answered.stdout

    reviewed = run(database_url, "chat", "--partner", "Acme", "--user", "bob",
                   stdin="review\napprove P1.2\nstatus\n")
    out = reviewed.stdout
    assert "Waiting for sign-off, oldest first:\n- P1.2 Technology Partner Tier: answered by alice" in out
    assert "    https://x.example/tier.pdf" in out
    assert "P1.2 is signed off by bob." in out and "Prerequisites: 1 of 1 met items" in out
    sign_off = next(row for row in exported(database_url, "Acme")["parts"][0]["items"] if row["id"] == "P1.2")
    assert {k: v for k, v in sign_off["sign_off"].items() if k != "date"} == {
        "reviewer": "bob", "decision": "approved", "approved": True, "reason": ""}

    changed = run(database_url, "chat", "--partner", "Acme", "--user", "alice",
                  stdin="goto P1.2\nevidence https://x.example/tier-2026.pdf\nhistory P1.2\n")
    assert ("The sign-off of P1.2 by bob is void: its answer or evidence changed. "
            "It needs sign-off again; bob is told.") in changed.stdout
    assert "alice  P1.2 sign_off: approved bob evidence=1 → —" in changed.stdout
    document = exported(database_url, "Acme")
    assert document["readiness"]["sign_off_required"] and "P1.2" in document["readiness"]["unreviewed"]
    # Undoing the change takes the evidence back; the sign-off it voided stays void.
    undone = run(database_url, "chat", "--partner", "Acme", "--user", "alice", stdin="undo\n")
    assert "Undone:\n  P1.2 evidence: — → https://x.example/tier-2026.pdf\nThe undo is in" in undone.stdout
    assert next(row for row in exported(database_url, "Acme")["parts"][0]["items"]
                if row["id"] == "P1.2")["sign_off"] is None


def test_sign_off_speaks_chinese(database_url):
    run(database_url, *START, "--lang", "zh", "--user", "alice",
        stdin="设置 审阅人 Bob\n是\n是\nhttps://x.example/tier.pdf\n")
    reviewed = run(database_url, "chat", "--partner", "Acme", "--user", "alice",
                   stdin="批准 P1.2\n设置 审阅人 alice,bob\n批准 P1.2\n")
    assert "只有本申请的审阅人才能签核 P1.2。" in reviewed.stdout
    assert "P1.2 是你自己回答的，须由另一位审阅人签核。" in reviewed.stdout
    asked = run(database_url, "chat", "--partner", "Acme", "--user", "bob",
                stdin="需修改 P1.2 证明材料是 2019 年的\n待签核\n")
    assert "bob 要求修改 P1.2：证明材料是 2019 年的" in asked.stdout and "已通知 alice。" in asked.stdout
    assert "没有等待签核的项。" in asked.stdout
