"""Checklist releases: their dates, the diff between two, and the upgrade plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from bot.render import render
from flows.application import MET, NOT_MET, Answer, ApplicationState, Evidence
from flows.case_studies import SolutionDocuments
from flows.checklist import ChecklistError, get_checklist, load_checklist
from flows.readiness import readiness
from flows.releases import diff, upgrade_plan
from tests.support.releases import (
    ACCEPTED_UNTIL,
    ADDED_ITEM,
    ANSWERS_CHANGED,
    APPLIES_CHANGED,
    REMOVED_ITEM,
    TEXT_CHANGED,
    WINDOW_CHANGED,
    release,
    write_release,
)

AT = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


def test_the_shipped_release_names_itself_and_invents_no_dates():
    checklist = get_checklist()
    assert (checklist.release, checklist.published, checklist.valid_from, checklist.accepted_until) == (
        "1.0", "2019-12", None, None)
    assert checklist.accepted_on(date(2099, 1, 1))


def test_a_release_file_gives_its_validity(tmp_path):
    new = release(tmp_path)
    assert (new.release, new.valid_from, new.accepted_until) == ("2.0", date(2020, 7, 1), ACCEPTED_UNTIL)
    assert new.accepted_on(ACCEPTED_UNTIL) and not new.accepted_on(date(2027, 7, 1))


def test_diff_lists_added_removed_and_changed_items_with_what_changed(tmp_path):
    found = diff(get_checklist(), release(tmp_path))
    assert [item.id for item in found.added] == [ADDED_ITEM]
    assert [item.id for item in found.removed] == [REMOVED_ITEM]
    assert {change.item_id: change.aspects for change in found.changed} == {
        APPLIES_CHANGED: ("applies_to",), ANSWERS_CHANGED: ("answers",), TEXT_CHANGED: ("text",),
        WINDOW_CHANGED: ("max_age",)}
    assert diff(get_checklist(), get_checklist()).same


def test_the_diff_in_chinese_names_each_item_and_aspect(tmp_path):
    text = render("releases.j2", "diff", "zh", d=diff(get_checklist(), release(tmp_path)))
    assert "aws-retail-competency@1.0 → aws-retail-competency@2.0" in text
    assert f"+ {ADDED_ITEM} 测试新增条目（新增）" not in text  # the parentheses are the template's own
    assert f"+ {ADDED_ITEM} 测试新增条目 (新增)" in text
    assert f"~ {WINDOW_CHANGED} " in text and "(更改: 证据有效期)" in text


def answered_state() -> ApplicationState:
    drill = Evidence("https://wiki/drill", date(2026, 3, 1), date(2027, 3, 1), "alice", AT, id=7)
    return ApplicationState(
        partner="Acme", delivery_type="saas", checklist_id="aws-retail-competency", checklist_release="1.0", id=1,
        cursor=REMOVED_ITEM, finished=True,
        answers={"P1.1": Answer(MET, answered_by="alice", answered_at=AT),
                 TEXT_CHANGED: Answer(MET, note="see wiki", answered_by="alice", answered_at=AT, evidence=(drill,)),
                 REMOVED_ITEM: Answer(NOT_MET, answered_by="bob", answered_at=AT),
                 WINDOW_CHANGED: Answer(None, assignee="carol")})


def test_an_upgrade_keeps_unchanged_answers_reopens_changed_ones_and_archives_removed_ones(tmp_path):
    state = answered_state()
    plan = upgrade_plan(get_checklist(), release(tmp_path), state)
    assert plan.problem is None
    assert plan.kept == ("P1.1",) and plan.reopened == (TEXT_CHANGED,) and plan.archived == (REMOVED_ITEM,)
    after = plan.after
    assert after.checklist_release == "2.0" and after.cursor is None and not after.finished
    assert after.answer("P1.1") == state.answer("P1.1")
    reopened = after.answer(TEXT_CHANGED)
    assert (reopened.status, reopened.previous_status, reopened.note) == (None, MET, "see wiki")
    assert reopened.evidence == state.answer(TEXT_CHANGED).evidence  # the evidence stays
    assert after.answer(WINDOW_CHANGED) == state.answer(WINDOW_CHANGED)  # never answered: nothing to reopen
    assert after.answer(REMOVED_ITEM) == state.answer(REMOVED_ITEM)  # its row stays, answered to 1.0


@pytest.mark.parametrize(("version", "problem"), [("1.0", "same_release"), ("0.9", "not_newer")])
def test_an_upgrade_only_moves_to_a_newer_release_of_the_same_checklist(tmp_path, version, problem):
    def older(raw: dict) -> None:  # valid before the shipped one was published
        raw.update(published="2019-01", valid_from=date(2019, 1, 1))

    path = write_release(tmp_path, version, edit=older if version == "0.9" else None)
    assert upgrade_plan(get_checklist(), load_checklist(path), answered_state()).problem == problem
    other = replace(get_checklist(), id="aws-other-competency")
    assert upgrade_plan(get_checklist(), other, answered_state()).problem == "other_checklist"


def test_readiness_flags_an_audit_after_the_release_is_no_longer_accepted(tmp_path):
    new = release(tmp_path)
    everything_met = {item.id: Answer(MET) for item in new.items}
    state = ApplicationState(partner="Acme", delivery_type="customer_deployed", checklist_id=new.id,
                             checklist_release=new.release, answers=everything_met,
                             target_audit_date=date(2027, 7, 1))
    late = readiness(new, state, (), SolutionDocuments(deployment_guide="https://guide"), date(2026, 11, 28))
    assert late.past_acceptance and not late.ready
    on_time = readiness(new, replace(state, target_audit_date=ACCEPTED_UNTIL), (),
                        SolutionDocuments(deployment_guide="https://guide"), date(2026, 11, 28))
    assert not on_time.past_acceptance
    text = render("releases.j2", "release_line", "en", checklist=new, audit_day=date(2027, 7, 1))
    assert text.splitlines() == [
        "Release 2.0, published 2020-06, valid from 2020-07-01, accepted until 2027-06-30",
        "Warning: the target audit date 2027-07-01 is after 2027-06-30, the last day AWS accepts release 2.0; "
        "move to a newer release (competency-bot upgrade).",
    ]


def test_a_bad_release_date_is_refused_naming_the_file_and_field_in_the_operators_language(tmp_path):
    path = write_release(tmp_path, edit=lambda raw: raw.update(accepted_until="mid 2027"))
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert render("releases.j2", "checklist_problem", "zh", error=refused.value) == (
        f"{path}：清单，字段 accepted_until：'mid 2027' 不是类似 2020-06-30 的日期")


def test_an_item_problem_names_the_file_the_item_and_the_field_in_chinese(tmp_path):
    def negative_window(raw: dict) -> None:
        next(item for item in raw["items"] if item["id"] == WINDOW_CHANGED)["max_age"] = {"months": -6}

    path = write_release(tmp_path, edit=negative_window)
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert render("releases.j2", "checklist_problem", "zh", error=refused.value) == (
        f"{path}：条目 {WINDOW_CHANGED}，字段 max_age：months 必须是正整数")
    assert render("releases.j2", "checklist_problem", "en", error=refused.value) == (
        f"{path}: item {WINDOW_CHANGED}, field max_age: months must be a positive whole number")
