"""Text at the way in: control characters dropped, NFC; partner names refused or keyed."""

from __future__ import annotations

import unicodedata

import pytest

from flows.application import BAD_CHARACTERS, partner_key, partner_problem
from flows.text import clean, clean_all


def test_clean_drops_every_control_but_newline_and_tab_and_composes():
    controls = "".join(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))
    assert clean(f"a{controls}b") == "a\t\nb"
    assert clean("\x1b[2J\x1b]0;pwned\x07ok\r\n") == "[2J]0;pwnedok\n"
    assert clean(unicodedata.normalize("NFD", "Café 中文")) == "Café 中文" == unicodedata.normalize("NFC", "Café 中文")


def test_clean_all_reaches_every_string_of_a_request_body():
    body = {"view": {"state": {"values": {"partner": {"value": {"value": "Acme\x00"}}}}},
            "actions": [{"value": "1|P1.1\x1b"}], "n": 3, "flag": True, "none": None}
    assert clean_all(body) is body
    assert body == {"view": {"state": {"values": {"partner": {"value": {"value": "Acme"}}}}},
                    "actions": [{"value": "1|P1.1"}], "n": 3, "flag": True, "none": None}


@pytest.mark.parametrize("name", ["Acme\nRetail", "Acme\tRetail", "Acme\x00", "\u202eemca", "Acme\u2066x\u2069",
                                  "Acme\u200f"])
def test_partner_names_with_control_or_direction_characters_are_refused(name):
    assert partner_problem(name) == BAD_CHARACTERS


@pytest.mark.parametrize("name", ["Acme Retail", "阿克米零售", "Acme\u200b", "שלום Retail"])
def test_ordinary_partner_names_are_accepted(name):
    assert partner_problem(name) is None


def test_partner_keys_fold_forms_case_and_invisible_characters():
    assert len({partner_key(n) for n in ("ACME  Retail", "ａｃｍｅ retail", "Acme\u200b Retail", " acme retail ")}) == 1
    assert partner_key("İstanbul") == partner_key("Istanbul") == "istanbul"
    assert partner_key("Acme") != partner_key("Acne")
