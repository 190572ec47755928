"""The checklist data file against the seed, and the loader's validation."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

from flows.checklist import CHECKLIST_DIR, ChecklistError, all_checklists, get_checklist, load_checklist

SEED = (Path(__file__).resolve().parents[3] / "shared" / "seed"
        / "aws-retail-competency-technology-partner-checklist-2019-zh.md")
DATA_FILE = CHECKLIST_DIR / "aws-retail-competency.toml"

PREREQUISITES = ["P1.1", "P1.2", "P1.3", "P1.4", "P2.1", "P2.2", "P3.1", "P3.2",
                 "P4.1", "P4.2", "P4.3", "P4.4", "P4.5", "P5.1"]
TECHNICAL = ([f"T1.{n}" for n in range(1, 29)] + [f"T2.{n}" for n in range(1, 14)]
             + ["T3.1", "T3.2", "T3.3", "T4.1", "T4.2"])
SAAS_ONLY = {"T1.1", "T1.2", "T1.3", "T1.4", "T1.5", "T1.6", "T1.7", "T1.8", "T1.12", "T1.13",
             "T1.14", "T1.18", "T1.19", "T1.24", "T1.27", "T1.28", "T2.3", "T2.4", "T2.7", "T2.9",
             "T2.11", "T2.12", "T2.13", "T3.1", "T3.2", "T3.3"}
WINDOWS = {"P2.1": {"months": 18}, "P2.2": {"months": 18}, "P3.2": {"months": 12},
           "T1.11": {"days": 7}, "T1.24": {"months": 12}, "T1.25": {"months": 12},
           "T2.9": {"months": 12}, "T2.13": {"months": 12}}


def test_every_item_is_present_in_seed_order():
    checklist = get_checklist()
    assert [i.id for i in checklist.items] == PREREQUISITES + ["D1", "D2", "D3"] + TECHNICAL
    assert len(TECHNICAL) == 46 and len(PREREQUISITES) == 14


def test_parts_and_sections():
    checklist = get_checklist()
    parts = {item.id: item.part for item in checklist.items}
    assert {parts[i] for i in PREREQUISITES} == {"prerequisites"}
    assert {parts[i] for i in ("D1", "D2", "D3")} == {"documents"}
    assert {parts[i] for i in TECHNICAL} == {"technical"}
    assert checklist.item("T1.24").section.title("en") == "Security"


def test_applicability_per_item():
    checklist = get_checklist()
    for item in checklist.items:
        if item.id in SAAS_ONLY:
            expected = ("saas",)
        elif item.id == "D2":
            expected = ("customer_deployed",)
        else:
            expected = ("saas", "customer_deployed")
        assert item.applies_to == expected, item.id


@pytest.mark.skipif(not SEED.exists(), reason="the seed lives in ../shared/seed beside the repository")
def test_applicability_matches_the_seed_table():
    """Read the 是/否 columns straight from the seed's technical table."""
    text = SEED.read_text(encoding="utf-8")
    table = text.split("# 零售能力技术合作伙伴验证清单", 1)[1]
    rows = re.findall(r"^(?:<b>)?(\d+\.\d+) [^\n]*\t(是|否)\t(是|否)\t\s*$", table, re.MULTILINE)
    assert len(rows) == 46
    checklist = get_checklist()
    for number, saas, customer in rows:
        item = checklist.item(f"T{number}")
        assert item.applies("saas") == (saas == "是"), item.id
        assert item.applies("customer_deployed") == (customer == "是"), item.id


def test_every_window_is_data():
    checklist = get_checklist()
    assert {i.id: i.max_age for i in checklist.items if i.max_age} == WINDOWS
    assert checklist.item("T1.24").expiry(date(2025, 3, 1)) == date(2026, 3, 1)
    assert checklist.item("T1.11").expiry(date(2026, 11, 20)) == date(2026, 11, 27)
    assert checklist.item("P2.1").expiry(date(2025, 5, 31)) == date(2026, 11, 30)


def test_texts_in_both_languages_and_categories():
    checklist = get_checklist()
    for item in checklist.items:
        for language in ("zh", "en"):
            assert item.title(language) and item.text(language) and item.evidence(language)
    assert [c.id for c in checklist.categories] == [
        "customer_engagement", "enterprise_buying_planning", "supply_chain_distribution",
        "stores", "advanced_retail_data_science", "core_retail_business_apps"]
    assert checklist.category("stores").title("zh") == "实体、数字和虚拟商店"
    assert [d.id for d in checklist.delivery_types] == ["saas", "customer_deployed"]
    assert "{partner}" in checklist.email_subject("en")


def _write_variant(tmp_path: Path, edit) -> Path:
    raw = DATA_FILE.read_text(encoding="utf-8")
    path = tmp_path / "broken.toml"
    path.write_text(edit(raw), encoding="utf-8")
    return path


def test_duplicate_item_id_is_refused(tmp_path):
    path = _write_variant(tmp_path, lambda raw: raw.replace('id = "T1.2"\n', 'id = "T1.1"\n', 1))
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert (refused.value.source, refused.value.kind, refused.value.key, refused.value.field,
            refused.value.problem) == (str(path), "item", "T1.1", "id", "duplicate_id")


def test_bad_max_age_is_refused(tmp_path):
    path = _write_variant(tmp_path,
                          lambda raw: re.sub(r"max_age = \{ ?days = 7 ?\}", "max_age = { fortnights = 1 }", raw))
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert (refused.value.key, refused.value.field, refused.value.problem) == ("T1.11", "max_age", "max_age_key")
    assert refused.value.details["value"] == "fortnights"


def test_missing_field_is_refused(tmp_path):
    def drop_evidence_of_p12(raw: str) -> str:
        data = tomllib.loads(raw)
        assert data["items"][1]["id"] == "P1.2"
        start = raw.index('id = "P1.2"')
        evidence = raw.index("\nevidence = ", start)
        end = raw.index("\n", evidence + 1)
        return raw[:evidence] + raw[end:]

    path = _write_variant(tmp_path, drop_evidence_of_p12)
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert (refused.value.kind, refused.value.key, refused.value.field, refused.value.problem) == (
        "item", "P1.2", "evidence", "missing_field")


def test_a_second_checklist_is_one_more_file(tmp_path):
    raw = DATA_FILE.read_text(encoding="utf-8")
    (tmp_path / "retail.toml").write_text(raw, encoding="utf-8")
    (tmp_path / "other.toml").write_text(
        raw.replace('id = "aws-retail-competency"', 'id = "aws-other-competency"', 1), encoding="utf-8"
    )
    checklists = all_checklists(tmp_path)
    assert sorted(checklists) == [("aws-other-competency", "1.0"), ("aws-retail-competency", "1.0")]


def test_bad_reminder_lead_days_are_refused(tmp_path):
    path = _write_variant(tmp_path, lambda raw: raw.replace("reminder_lead_days = [60, 30, 14, 7, 1, 0]",
                                                            'reminder_lead_days = [60, "soon"]'))
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert (refused.value.kind, refused.value.field, refused.value.problem) == (
        "checklist", "reminder_lead_days", "bad_lead_days")
