"""Releases and the Well-Architected lens at the command line, as people run it: an
application pinned to its release, moved to a newer one, exported for the lens; lenses
imported into checklists the terminal walks; every refusal in the operator's language."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flows.application import MET, NOT_MET, ApplicationState
from storage import walks
from storage.applications import history
from tests.support.cli import bot
from tests.support.releases import ADDED_ITEM, REMOVED_ITEM, TEXT_CHANGED, write_release

NOW = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


def url_of(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def started(db) -> int:
    state = walks.start(db, ApplicationState(partner="Acme", delivery_type="saas", checklist_id="aws-retail-competency",
                                             categories=("stores",), language="en"), "alice", NOW)
    walks.on_item(db, state.id, "P1.1", "yes", "alice", NOW)
    walks.on_item(db, state.id, REMOVED_ITEM, "no", "alice", NOW)
    walks.on_item(db, state.id, TEXT_CHANGED, "yes", "alice", NOW)
    walks.record_evidence(db, state.id, TEXT_CHANGED, "https://wiki/drill", "2026-03-01", "", "alice", NOW)
    return state.id


def test_an_application_is_pinned_to_its_release_and_upgraded_keeping_its_work(db, tmp_path):
    application_id = started(db)
    before = walks.load(db, application_id)
    assert before.checklist_release == "1.0"
    assert before.answer(TEXT_CHANGED).status == MET and before.answer(TEXT_CHANGED).evidence
    env = {"CHECKLISTS_DIR": str(tmp_path / "checklists"), "LANG": "en_GB.UTF-8", "LC_ALL": ""}
    write_release(tmp_path / "checklists")

    dry = bot(url_of(db), "upgrade", "--partner", "acme", "--to", "2.0", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "Acme: release 1.0 → 2.0",
        "1 answer(s) kept as they are.",
        "Reopened, because the item changed (the old answer is shown):",
        f"  {TEXT_CHANGED} (was: met)",
        "Archived, because the new release drops the item (kept in the history):",
        f"  {REMOVED_ITEM} (not met)",
        f"New items to answer: {ADDED_ITEM}",
    ]
    assert walks.load(db, application_id) == before  # a dry run changes nothing

    moved = bot(url_of(db), "upgrade", "--partner", "Acme", "--to", "aws-retail-competency@2.0", env=env)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines()[-1] == "Moved to release 2.0; the history records it."
    after = walks.load(db, application_id)
    assert after.checklist_release == "2.0"
    assert after.answer("P1.1") == before.answer("P1.1")
    reopened = after.answer(TEXT_CHANGED)
    assert (reopened.status, reopened.previous_status) == (None, MET)
    assert [e.text for e in reopened.evidence] == ["https://wiki/drill"]
    assert after.answer(REMOVED_ITEM).status == NOT_MET  # the row stays, answered to 1.0
    rows = [(h.item_id, h.field, h.old_value, h.new_value, h.actor) for h in history(db, application_id)]
    assert (None, "checklist_release", "1.0", "2.0", "tester") in rows
    assert (TEXT_CHANGED, "status", MET, None, "tester") in rows
    assert (REMOVED_ITEM, "archived", NOT_MET, "1.0", "tester") in rows

    again = bot(url_of(db), "upgrade", "--partner", "Acme", "--to", "2.0", env=env)
    assert (again.returncode, again.stderr) == (2, "competency-bot: Acme already answers release 2.0.\n")
    missing = bot(url_of(db), "upgrade", "--partner", "Acme", "--to", "3.0", env={**env, "LANG": "zh_CN.UTF-8"})
    assert missing.returncode == 2
    assert missing.stderr.startswith("competency-bot: 未安装清单 3.0")

    # The walk names the release and shows the reopened item's old answer.
    walked = bot(url_of(db), "chat", "--partner", "Acme", stdin=f"status\ngoto {TEXT_CHANGED}\n", env=env)
    assert walked.returncode == 0, walked.stderr
    assert "Release 2.0, published 2020-06, valid from 2020-07-01, accepted until 2027-06-30" in walked.stdout
    assert "Reopened by the release upgrade; the answer before was: met · 1 piece(s) of evidence" in walked.stdout

    exported = bot(url_of(db), "export", "--partner", "Acme", "--format", "json", env=env)
    assert json.loads(exported.stdout)["release"] == {"version": "2.0", "published": "2020-06",
                                                      "valid_from": "2020-07-01", "accepted_until": "2027-06-30"}
    old = bot(url_of(db), "export", "--partner", "Acme", "--format", "json", "--release", "1.0", env=env)
    rows = {row["id"]: row for part in json.loads(old.stdout)["parts"] for row in part["items"]}
    assert rows[REMOVED_ITEM]["status"] == NOT_MET  # the archived answer, in an export of the old release
    answers = bot(url_of(db), "export", "--partner", "Acme", "--format", "wa-answers", env=env)
    requests = {r["QuestionId"]: r for r in json.loads(answers.stdout)}
    assert requests["q_P1_d1"]["SelectedChoices"] == ["q_P1_d1_met"]
    assert "q_T1_d24" not in requests  # reopened: to be answered again before it is replayed


def test_an_audit_after_the_accepted_until_date_is_flagged(db, tmp_path):
    env = {"CHECKLISTS_DIR": str(tmp_path / "checklists"), "LANG": "en_GB.UTF-8", "LC_ALL": ""}
    write_release(tmp_path / "checklists")
    run = bot(url_of(db), "chat", "--partner", "Late", "--delivery", "saas", "--categories", "stores",
              "--lang", "en", "--audit", "2027-09-01", stdin="status\n", env=env)
    assert run.returncode == 0, run.stderr
    assert ("Warning: the target audit date 2027-09-01 is after 2027-06-30, the last day AWS accepts release 2.0; "
            "move to a newer release (competency-bot upgrade).") in run.stdout
    exported = bot(url_of(db), "export", "--partner", "Late", "--format", "md", env=env)
    assert "**Warning: the target audit date 2027-09-01 is after 2027-06-30" in exported.stdout


def test_checklist_json_names_the_release_and_no_invented_dates(database_url):
    shown = json.loads(bot(database_url, "checklist", "--json", "--lang", "en").stdout)
    assert {key: shown[key] for key in ("checklist", "release", "published", "valid_from", "accepted_until")} == {
        "checklist": "aws-retail-competency", "release": "1.0", "published": "2019-12", "valid_from": None,
        "accepted_until": None}


def test_diff_between_an_installed_release_and_a_file(tmp_path, database_url):
    path = write_release(tmp_path / "elsewhere")
    run = bot(database_url, "checklist", "diff", "aws-retail-competency@1.0", str(path), "--lang", "en")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "aws-retail-competency@1.0 → aws-retail-competency@2.0"
    assert f"+ {ADDED_ITEM} An item new in the test release (added)" in lines
    assert any(line.startswith(f"- {REMOVED_ITEM} ") and line.endswith("(removed)") for line in lines)
    assert any(line.startswith(f"~ {TEXT_CHANGED} ") and line.endswith("(changed: text)") for line in lines)


def test_a_lens_is_exported_imported_and_walked_in_the_terminal(tmp_path, database_url):
    env = {"CHECKLISTS_DIR": str(tmp_path / "checklists"), "LANG": "en_GB.UTF-8", "LC_ALL": ""}
    lens_path = tmp_path / "retail-lens.json"
    written = bot(database_url, "checklist", "export-lens", "--output", str(lens_path), "--lang", "en", env=env)
    assert written.stdout == f"Wrote {lens_path}: 5 pillar(s), 63 question(s).\n"
    assert bot(database_url, "checklist", "export-lens", "--output", str(lens_path), env=env).returncode == 2

    policy = {"schemaVersion": "2021-11-01", "name": "Key policy", "pillars": [{
        "id": "security", "name": "Security", "questions": [{
            "id": "sec_keys", "title": "Do you rotate keys?", "description": "Every access key, weekly.",
            "choices": [{"id": "sec_keys_auto", "title": "Automatically"}, {"id": "sec_keys_no", "title": "None"}],
            "riskRules": [{"condition": "sec_keys_auto", "risk": "NO_RISK"},
                          {"condition": "default", "risk": "HIGH_RISK"}]}]}]}
    (tmp_path / "policy.json").write_text(json.dumps(policy), encoding="utf-8")
    imported = bot(database_url, "checklist", "import-lens", str(tmp_path / "policy.json"), env=env)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "checklists" / "policy.toml").exists()
    walk = bot(database_url, "chat", "--checklist", "policy", "--partner", "Acme", "--delivery", "saas",
               "--categories", "all", "--lang", "en", stdin="yes\n", env=env)
    assert walk.returncode == 0, walk.stderr
    assert "sec_keys · Security" in walk.stdout and "Every access key, weekly." in walk.stdout
    assert "Choices (met: all of them are in place): Automatically" in walk.stdout
    again = bot(database_url, "checklist", "import-lens", str(tmp_path / "policy.json"), env=env)
    assert again.returncode == 2 and "policy.toml exists and is kept; --force overwrites it" in again.stderr


def test_an_invalid_lens_is_refused_field_by_field_in_chinese(tmp_path, database_url):
    lens = {"schemaVersion": "2021-11-01", "name": "x" * 129, "pillars": [{
        "id": "s", "name": "Security", "questions": [{
            "id": "sec_keys", "title": "Keys?", "choices": [{"id": "sec_keys_no", "title": "None"}],
            "riskRules": [{"condition": "sec_keys_no", "risk": "HIGH_RISK"}]}]}]}
    (tmp_path / "bad.json").write_text(json.dumps(lens), encoding="utf-8")
    env = {"CHECKLISTS_DIR": str(tmp_path / "checklists"), "LANG": "zh_CN.UTF-8", "LC_ALL": ""}
    run = bot(database_url, "checklist", "import-lens", str(tmp_path / "bad.json"), env=env)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"competency-bot: {tmp_path / 'bad.json'} 不是有效的自定义透视：",
        "  name: 超过 128 个字符",
        "  pillars[0].id: ID 必须由 3 到 128 个字母、数字或下划线组成",
        "  pillars[0].questions[0].riskRules: 需要一条条件为 default 的风险规则",
    ]
    assert not (tmp_path / "checklists" / "bad.toml").exists()
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    broken = bot(database_url, "checklist", "import-lens", str(tmp_path / "broken.json"), env=env)
    assert broken.returncode == 2 and "broken.json 不是 JSON" in broken.stderr


def test_a_broken_installed_checklist_names_file_item_and_field_in_the_operators_language(tmp_path, database_url):
    def no_evidence(raw: dict) -> None:
        del next(item for item in raw["items"] if item["id"] == "P1.2")["evidence"]

    path = write_release(tmp_path / "checklists", edit=no_evidence)
    env = {"CHECKLISTS_DIR": str(tmp_path / "checklists"), "LANG": "zh_CN.UTF-8", "LC_ALL": ""}
    run = bot(database_url, "checklist", "--json", env=env)
    assert (run.returncode, run.stderr) == (2, f"competency-bot: {path}：条目 P1.2，字段 evidence：缺失\n")
