"""Checklist releases made for the tests: copies of the real release with chosen changes.
The product ships only releases whose content comes from a source the team holds."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import tomli_w

from flows.checklist import CHECKLIST_DIR, Checklist, load_checklist

REAL = CHECKLIST_DIR / "aws-retail-competency.toml"
ADDED_ITEM = "T4.3"
REMOVED_ITEM = "T1.28"
TEXT_CHANGED, WINDOW_CHANGED, APPLIES_CHANGED, ANSWERS_CHANGED = "T1.24", "P3.2", "T1.1", "P4.3"
ACCEPTED_UNTIL = date(2027, 6, 30)


def write_release(folder: Path, version: str = "2.0", name: str = "", edit=None) -> Path:
    """Release ``version``: valid from 2020-07-01 and accepted until 2027-06-30 (invented
    for the tests), T1.24's requirement reworded, P3.2's window 6 months, T1.1 for both
    delivery types, P4.3 no longer answerable not applicable, T1.28 dropped, T4.3 new;
    then ``edit(raw)`` makes the test's own changes to the parsed file."""
    raw = tomllib.loads(REAL.read_text(encoding="utf-8"))
    raw.update(version=version, published="2020-06", valid_from=date(2020, 7, 1), accepted_until=ACCEPTED_UNTIL)
    items = {item["id"]: item for item in raw["items"]}
    items[TEXT_CHANGED]["text"] = {language: text + (" Test release: also drill yearly." if language == "en"
                                                     else "测试版本：每年也要演练。")
                                   for language, text in items[TEXT_CHANGED]["text"].items()}
    items[WINDOW_CHANGED]["max_age"] = {"months": 6}
    items[APPLIES_CHANGED]["applies_to"] = ["saas", "customer_deployed"]
    items[ANSWERS_CHANGED]["na_allowed"] = False
    added = dict(items["T4.2"], id=ADDED_ITEM, number="4.3",
                 title={"zh": "测试新增条目", "en": "An item new in the test release"})
    raw["items"] = [item for item in raw["items"] if item["id"] != REMOVED_ITEM] + [added]
    if edit is not None:
        edit(raw)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"aws-retail-competency-{version}.toml")
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def release(folder: Path, version: str = "2.0") -> Checklist:
    return load_checklist(write_release(folder, version))
