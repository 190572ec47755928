"""The terminal walk as a newcomer meets it (issue 16), through the real command line:
a subprocess with piped standard input, in a clean environment."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from tests.support.cli import ROOT

BOT = [sys.executable, "-m", "bot"]


def run(database_url: str | None, *args: str, stdin: str = "", locale: str = "C.UTF-8", cwd=ROOT,
        home=None, tz: str = "UTC") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(USER="tester", LANG=locale, PYTHONPATH=str(ROOT), TZ=tz)
    if database_url:
        env["DATABASE_URL"] = database_url
    if home:
        env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    return subprocess.run([*BOT, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def exported(database_url: str, partner: str) -> dict:
    result = run(database_url, "export", "--partner", partner, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_new_application_asks_what_it_does_not_know_from_piped_input(database_url):
    started = run(database_url, "chat", "--partner", "Globex", locale="en_GB.UTF-8",
                  stdin="\ncustomer\n4\n2020-01-01\n2030-03-01\nyes\n")
    assert started.returncode == 0, started.stderr
    out = started.stdout
    assert "Enter keeps English." in out and "Delivery type of the solution?" in out
    assert "2020-01-01 is in the past; the target audit date must be today or later." in out
    assert "Hello Globex: 37 items apply to your solution." in out and "Saved: P1.1 met." in out
    document = exported(database_url, "Globex")
    assert document["delivery_type"] == "customer_deployed" and document["language"] == "en"
    assert [c["id"] for c in document["categories"]] == ["stores"]
    assert document["target_audit_date"] == "2030-03-01"


def test_the_first_prompt_speaks_the_locale_and_lang_overrides_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    chinese = run(url, "chat", "--partner", "Zed", locale="zh_CN.UTF-8", stdin="")
    assert chinese.stdout.startswith("申请使用哪种语言") and "直接按回车保留中文" in chinese.stdout
    english = run(url, "chat", "--partner", "Zed", locale="C.UTF-8", stdin="")
    assert english.stdout.startswith("Language of the application")
    assert "no application was created" in english.stdout
    chosen = run(url, "chat", "--partner", "Zed", "--lang", "en", locale="zh_CN.UTF-8", stdin="")
    assert chosen.stdout.startswith("Delivery type of the solution?")


def test_resuming_asks_the_name_first_and_offers_to_change_what_differs(database_url):
    run(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores", "--lang", "en",
        stdin="yes\n")
    resumed = run(database_url, "chat", stdin="acme\nstatus\n")
    assert resumed.stdout.startswith("Partner (company) name?\nWelcome back, Acme: 1 of 62 items answered.")
    assert "Delivery type of the solution?" not in resumed.stdout
    offered = run(database_url, "chat", "--partner", "Acme", "--delivery", "customer_deployed",
                  "--categories", "stores", stdin="maybe\nyes\nstatus\n")
    assert ("Acme's application has delivery type SaaS; you gave customer-deployed. Change it? (yes / no)"
            in offered.stdout)
    assert "Please answer yes or no." in offered.stdout
    assert "Saved: the delivery type is now customer-deployed (was SaaS)." in offered.stdout
    assert "Welcome back, Acme: 1 of 37 items answered." in offered.stdout
    assert "solution categories" not in offered.stdout  # the same categories: nothing to offer
    declined = run(database_url, "chat", "--partner", "Acme", "--lang", "zh", stdin="no\n")
    assert "Change it? (yes / no)" in declined.stdout and exported(database_url, "Acme")["language"] == "en"


def test_settings_change_in_both_languages_with_history_and_undo(database_url):
    run(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores", "--lang", "en",
        stdin="set audit 2030-03-01\n设置 类别 1、4\nset delivery 2\nset audit yesterday-ish\nyes\nnote pilot\n"
              "undo\nundo\nhistory P1.1\nhistory\n")
    out = run(database_url, "chat", "--partner", "Acme", stdin="undo\nundo\nundo\nundo\nundo\n").stdout
    document = exported(database_url, "Acme")
    # P1.1's note and answer were undone in the first run; this one undid delivery, categories, audit date.
    assert document["delivery_type"] == "saas" and document["target_audit_date"] is None
    assert [c["id"] for c in document["categories"]] == ["stores"]
    items = {i["id"]: i for part in document["parts"] for i in part["items"]}
    assert items["P1.1"]["status"] is None and items["P1.1"]["note"] == ""
    assert "Undone:\n  delivery_type: SaaS → customer-deployed" in out
    assert "You have no change left to undo." in out
    history = run(database_url, "chat", "--partner", "Acme", stdin="history P1.1\nhistory\n").stdout
    assert "tester  P1.1 status: — → met" in history and "tester  P1.1 status: met → —" in history
    assert "tester  target_audit_date: 2030-03-01 → —" in history


def test_undo_never_takes_back_someone_elses_later_change(database_url):
    run(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores", "--lang", "en",
        stdin="yes\n")
    run(database_url, "chat", "--partner", "Acme", "--user", "bob", stdin="goto P1.1\nno\n")
    refused = run(database_url, "chat", "--partner", "Acme", stdin="undo\n")
    assert "Your last change cannot be undone: bob changed P1.1 status after it." in refused.stdout
    assert {i["id"]: i for p in exported(database_url, "Acme")["parts"] for i in p["items"]}["P1.1"]["status"] \
        == "not_met"


def test_the_default_database_is_the_users_data_folder_whatever_the_working_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    started = run(None, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores",
                  "--lang", "en", stdin="yes\n", cwd=tmp_path / "a", home=tmp_path)
    assert started.returncode == 0, started.stderr
    listed = run(None, "list", cwd=tmp_path / "b", home=tmp_path)
    database = tmp_path / "data" / "competency-bot" / "competency.db"
    assert listed.stdout.splitlines() == [
        "Acme · terminal · aws-retail-competency@1.0 · saas · en · 1/62 answered, 1 met · audit not set · not ready on "
        f"{listed.stdout.split('not ready on ')[1][:10]}: 64 gap(s)",
        f"1 application(s) in {database}",
    ]
    missing = run(None, "export", "--partner", "Nobody", cwd=tmp_path / "b", home=tmp_path)
    assert missing.returncode == 2 and f"no application for partner 'Nobody' in {database}" in missing.stderr
    assert not list((tmp_path / "a").iterdir()) and not list((tmp_path / "b").iterdir())


def test_the_end_of_the_walk_says_what_is_left(database_url):
    out = run(database_url, "chat", "--partner", "Acme", "--delivery", "customer_deployed", "--categories",
              "stores", "--lang", "en", stdin="no\n" * 33).stdout
    assert "Every item you answer yourself has an answer." in out
    assert "Still open: P2.1, P2.2, D1, D2. They are answered from your case studies and documents." in out
    assert "Not met or expired: P1.1, P1.2, P1.3," in out


def test_messages_that_misfired(database_url):
    out = run(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "1,4",
              "--lang", "zh", stdin="跳到\n备注\n跳到 P4.1\n随便\n跳到 P4.3\n").stdout
    assert "跳到 需要项目编号，例如：跳到 T2.13。" in out and "备注 需要备注内容" in out
    assert "是否满足？（是 / 否 / 跳过 / 帮助）" in out and "是否满足？（是 / 否 / 不适用 / 跳过 / 帮助）" in out
    assert "请回答 是、否 或 跳过" in out and "na" not in out.split("P4.1")[1].split("P4.3")[0]
    markdown = run(database_url, "export", "--partner", "Acme", "--format", "md").stdout
    assert "| 解决方案类别 | 客户参与度、实体、数字和虚拟商店 |" in markdown
    bogus = run(database_url, "chat", "--partner", "Other", "--categories", "bogus", "--lang", "en")
    assert bogus.returncode == 2 and "bogus is not a category" in bogus.stderr


def test_one_set_of_part_names_everywhere(database_url):
    status = run(database_url, "chat", "--partner", "Acme", "--delivery", "saas", "--categories", "stores",
                 "--lang", "en", stdin="status\n").stdout
    markdown = run(database_url, "export", "--partner", "Acme", "--format", "md").stdout
    for title in ("Prerequisites", "Documents", "Technical validation"):
        assert f"\n{title}: 0/" in status and f"\n## {title}\n" in markdown


def test_piping_into_head_and_ctrl_c_stop_quietly(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    env = {**os.environ, "DATABASE_URL": url, "USER": "tester", "PYTHONPATH": str(ROOT)}
    piped = subprocess.run(
        f"yes status | {sys.executable} -m bot chat --partner Acme --delivery saas --categories stores "
        "--lang en | head -n 3", shell=True, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert len(piped.stdout.splitlines()) == 3 and piped.stderr == ""
    process = subprocess.Popen([*BOT, "chat", "--partner", "Acme"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    seen = ""
    while "Met?" not in seen and time.monotonic() < deadline:
        seen += process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in err
    assert "Everything is saved. Run the same command again to carry on." in out


def test_dry_runs_print_one_readable_line_each_or_say_there_is_nothing(tmp_path):
    from datetime import date, timedelta

    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert run(url, "digest", "--print").stdout == (
        "no digest: no application has a PDM channel (set one with /competency pdm #channel, or PDM_CHANNEL)\n")
    assert run(url, "remind", "--dry-run", "--now", "2027-01-01T10:00Z").stdout == (
        "nothing due at 2027-01-01T10:00+00:00\n")
    dated = date.today() - timedelta(days=3)
    last = dated + timedelta(days=7)
    run(url, "chat", "--partner", "Rotor", "--delivery", "saas", "--categories", "1", "--lang", "en",
        stdin=f"goto T1.11\nyes\nhttps://keys.example.com\n{dated.isoformat()}\n")
    due = run(url, "remind", "--dry-run", "--now", f"{last.isoformat()}T10:00Z").stdout
    assert due.splitlines() == [
        "Rotor · T1.11 AWS access keys used only by interactive users · reminder to nobody (a terminal application "
        f"has no channel) · last valid day {last.isoformat()} · 0 day(s) left"]
    later = run(url, "remind", "--dry-run", "--now", f"{(last + timedelta(days=10)).isoformat()}T10:00Z").stdout
    assert "escalation to PDM channel (none: set one with /competency pdm or PDM_CHANNEL)" in later
    assert "Escalation" not in later and "ExpiryFlip" not in later


def test_chinese_labels_take_the_full_width_colon_with_no_space_after(tmp_path):
    url = f"sqlite:///{tmp_path / 'zh.db'}"
    out = run(url, "chat", "--partner", "甲", "--delivery", "saas", "--categories", "1", "--lang", "zh",
              stdin="跳到 T2.13\n案例 检查\n案例\n客户甲\nnot-a-url\n取消\n").stdout
    assert "证明材料：最近一次恢复到另一个 AWS 区域" in out and "有效期：证据自其日期起" in out
    assert "根据案例研究得出的回答：P2.1：不满足 · P2.2：不满足 · D1：不满足" in out
    assert "客户网站：必须是以 http:// 或 https:// 开头的完整网址" in out
    assert "： " not in out and not re.search(r"[\u4e00-\u9fff]: ", out), out


def test_the_readme_shows_the_real_first_screen_and_commands_a_fresh_shell_finds(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```text\n", 1)[1].split("```", 1)[0]
    answers = re.search(r"`printf '([^']*)' \| \.venv/bin/competency-bot chat`", readme).group(1)
    out = run(f"sqlite:///{tmp_path / 'first.db'}", "chat", locale="en_GB.UTF-8",
              stdin=answers.replace("\\n", "\n")).stdout
    assert out.startswith(shown), out
    # A command to type is .venv/bin/competency-bot: a fresh shell has no bare competency-bot on its PATH.
    bare = re.findall(r"(?<![/\w@.-])competency-bot (chat|list|export|web|socket|clock|remind|digest|db)\b", readme)
    assert bare == [], bare
