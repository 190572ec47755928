"""The Chinese catalog stays complete: every message the templates (and bot/, flows/)
say has a Chinese translation with the same placeholders, and the bot loads it.

When this fails after adding or changing a message, run ``scripts/update-translations``
and translate the empty or fuzzy entries in the zh ``messages.po``.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch

from tests.support.cli import ROOT

BABEL_CFG = ROOT / "babel.cfg"
ZH_PO = ROOT / "templates" / "locale" / "zh" / "LC_MESSAGES" / "messages.po"

# A %-placeholder as Python formats it: %(name)s, %(count)d, %(ratio).1f ...
PLACEHOLDER = re.compile(r"%\([^)]*\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _method_map():
    with BABEL_CFG.open() as handle:
        return parse_mapping_cfg(handle, filename=str(BABEL_CFG))


def _ids(message) -> tuple[str, ...]:
    return message if isinstance(message, tuple) else (message,)


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], list[str]]:
    """(msgid, context) -> where it is used, extracted exactly as babel.cfg says."""
    method_map, options_map = _method_map()
    found: dict[tuple[str, str | None], list[str]] = {}
    # Same walk as `pybabel extract -F babel.cfg .`: Babel skips .venv, .git, __pycache__.
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        key = (_ids(message)[0], context)
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def catalog():
    with ZH_PO.open("rb") as handle:
        return read_po(handle)


def test_babel_cfg_maps_every_template():
    method_map, _ = _method_map()
    unmapped = []
    for template in sorted((ROOT / "templates").rglob("*.j2")):
        relative = template.relative_to(ROOT).as_posix()
        method = next((m for pattern, m in method_map if pathmatch(pattern, relative)), None)
        if method != "jinja2":
            unmapped.append(relative)
    assert not unmapped, f"babel.cfg does not extract these templates with jinja2: {unmapped}"


def test_every_message_has_a_chinese_translation(extracted, catalog):
    assert extracted, "no messages extracted: is babel.cfg right?"
    missing = []
    for (msgid, context), places in extracted.items():
        entry = catalog.get(msgid, context=context)
        strings = _ids(entry.string) if entry is not None else ("",)
        if entry is None or entry.fuzzy or not all(s.strip() for s in strings):
            state = "missing" if entry is None else "fuzzy" if entry.fuzzy else "untranslated"
            missing.append(f"  [{state}] {msgid!r} ({', '.join(places)})")
    assert not missing, (
        f"{len(missing)} message(s) lack a Chinese translation in {ZH_PO.relative_to(ROOT)}; "
        "run scripts/update-translations and translate them:\n" + "\n".join(missing)
    )


def test_translations_keep_exactly_the_placeholders(catalog):
    wrong = []
    for entry in catalog:
        if not entry.id or not entry.string or entry.fuzzy:
            continue  # fuzzy entries are unused at run time and reported above
        expected = set(PLACEHOLDER.findall(_ids(entry.id)[0]))
        for string in _ids(entry.string):
            if not string:
                continue
            got = set(PLACEHOLDER.findall(string))
            # Newstyle gettext always %-formats, so any other "%" breaks rendering.
            stray = "%" in PLACEHOLDER.sub("", string).replace("%%", "")
            if got != expected or stray:
                wrong.append(
                    f"  {entry.id!r}: expected {sorted(expected)}, got {sorted(got)}"
                    + (" and a stray '%'" if stray else "")
                )
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_chinese_catalog_is_loaded_by_the_renderer():
    from bot.render import render

    english = render("walk.j2", "at_start", "en")
    chinese = render("walk.j2", "at_start", "zh")
    assert chinese != english
    assert CJK.search(chinese), chinese
