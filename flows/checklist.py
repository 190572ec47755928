"""The checklist as data: loading and validating the TOML files in ``flows/checklists``.

A competency checklist is one TOML file. Adding another competency means adding
another file; nothing here is specific to the retail checklist.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from dateutil.relativedelta import relativedelta

CHECKLIST_DIR = Path(__file__).parent / "checklists"
LANGUAGES = ("zh", "en")
PARTS = ("prerequisites", "documents", "technical")
DELIVERY_TYPES = ("saas", "customer_deployed")
# relativedelta's relative (plural) keywords; the singular ones set absolute values.
MAX_AGE_KEYS = ("years", "months", "weeks", "days")
# Where a derived item's status comes from instead of being typed in.
DERIVED_SOURCES = ("case_studies",)


@lru_cache(maxsize=8192)
def _after_window(day: date, window: tuple[tuple[str, int], ...]) -> date:
    # Cached: the digest judges thousands of case studies, many from the same few days.
    return day + relativedelta(**dict(window))


class ChecklistError(ValueError):
    """A checklist file that cannot be used; the message names the file, the item and the problem."""


@dataclass(frozen=True)
class Text:
    """A text in every language of the checklist."""

    zh: str
    en: str

    def __call__(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class Category:
    id: str
    title: Text
    description: Text


@dataclass(frozen=True)
class DeliveryType:
    id: str
    title: Text
    description: Text


@dataclass(frozen=True)
class Part:
    id: str
    title: Text
    intro: Text


@dataclass(frozen=True)
class Section:
    id: str
    part: str
    number: str
    title: Text
    intro: Text


@dataclass(frozen=True)
class Item:
    id: str
    section: Section
    number: str
    title: Text
    text: Text
    evidence: Text
    applies_to: tuple[str, ...]
    applies_note: Text
    needs_evidence: bool
    na_allowed: bool
    na_condition: Text
    max_age: dict[str, int] | None
    max_age_note: Text
    derived_from: str | None = None  # one of DERIVED_SOURCES: answered from that data, never typed

    @property
    def part(self) -> str:
        return self.section.part

    def applies(self, delivery_type: str) -> bool:
        return delivery_type in self.applies_to

    def expiry(self, evidence_date: date) -> date | None:
        """The last day on which evidence dated ``evidence_date`` still counts."""
        if self.max_age is None:
            return None
        return _after_window(evidence_date, tuple(self.max_age.items()))

    @property
    def short_window(self) -> bool:
        """Windows of a few weeks or less (the weekly key rotation) get fewer reminders."""
        if self.max_age is None:
            return False
        return not self.max_age.get("years") and not self.max_age.get("months")


@dataclass(frozen=True)
class Checklist:
    id: str
    version: str
    published: str
    title: Text
    intro: Text
    email_subject: Text
    submission_email: str
    categories: tuple[Category, ...]
    delivery_types: tuple[DeliveryType, ...]
    parts: tuple[Part, ...]
    sections: tuple[Section, ...]
    items: tuple[Item, ...]
    resources: tuple[tuple[Text, Text], ...] = ()
    # Days before expiry to remind at, for this whole checklist; None: the defaults.
    reminder_lead_days: tuple[int, ...] | None = None
    _by_id: dict[str, Item] = field(default_factory=dict, repr=False, compare=False)
    _applicable: dict[str, tuple[Item, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({item.id.upper(): item for item in self.items})
        for delivery_type in DELIVERY_TYPES:
            self._applicable[delivery_type] = tuple(item for item in self.items if item.applies(delivery_type))

    def item(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id.strip().upper())

    def applicable_items(self, delivery_type: str) -> tuple[Item, ...]:
        """In checklist order; computed once per checklist (it is on every hot path)."""
        found = self._applicable.get(delivery_type)
        return found if found is not None else tuple(item for item in self.items if item.applies(delivery_type))

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def part(self, part_id: str) -> Part:
        return next(p for p in self.parts if p.id == part_id)


def _text(raw: object, where: str, *, required: bool = True) -> Text:
    if raw is None and not required:
        return Text("", "")
    if not isinstance(raw, dict):
        raise ChecklistError(f"{where}: expected a table with 'zh' and 'en' texts")
    values = {}
    for language in LANGUAGES:
        value = raw.get(language)
        if not isinstance(value, str) or (required and not value.strip()):
            raise ChecklistError(f"{where}: missing '{language}' text")
        values[language] = value.strip()
    return Text(**values)


def _max_age(raw: object, where: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ChecklistError(f"{where}: max_age must be a table such as {{ months = 12 }}")
    for key, value in raw.items():
        if key not in MAX_AGE_KEYS:
            raise ChecklistError(
                f"{where}: max_age key '{key}' is not one of {', '.join(MAX_AGE_KEYS)}"
            )
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ChecklistError(f"{where}: max_age {key} must be a positive whole number")
    return dict(raw)


def _lead_days(raw: object, where: str) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in raw):
        raise ChecklistError(f"{where}: must be a list of whole numbers of days, 0 or more")
    return tuple(sorted(set(raw), reverse=True))


def _require(raw: dict, key: str, where: str) -> object:
    if key not in raw:
        raise ChecklistError(f"{where}: missing field '{key}'")
    return raw[key]


def parse_checklist(raw: dict, source: str) -> Checklist:
    """Build a :class:`Checklist` from parsed TOML, or raise :class:`ChecklistError`."""

    def fail(message: str) -> ChecklistError:
        return ChecklistError(f"{source}: {message}")

    try:
        categories = tuple(
            Category(
                str(_require(c, "id", "category")),
                _text(c.get("title"), f"category {c.get('id')} title"),
                _text(c.get("description"), f"category {c.get('id')} description"),
            )
            for c in _require(raw, "categories", "checklist")
        )
        delivery_types = tuple(
            DeliveryType(
                str(_require(d, "id", "delivery type")),
                _text(d.get("title"), f"delivery type {d.get('id')} title"),
                _text(d.get("description"), f"delivery type {d.get('id')} description"),
            )
            for d in _require(raw, "delivery_types", "checklist")
        )
        if sorted(d.id for d in delivery_types) != sorted(DELIVERY_TYPES):
            raise ChecklistError(f"delivery_types must be exactly {', '.join(DELIVERY_TYPES)}")
        parts = tuple(
            Part(
                str(_require(p, "id", "part")),
                _text(p.get("title"), f"part {p.get('id')} title"),
                _text(p.get("intro"), f"part {p.get('id')} intro", required=False),
            )
            for p in _require(raw, "parts", "checklist")
        )
        if tuple(p.id for p in parts) != PARTS:
            raise ChecklistError(f"parts must be {', '.join(PARTS)} in that order")
        sections: dict[str, Section] = {}
        for s in _require(raw, "sections", "checklist"):
            section_id = str(_require(s, "id", "section"))
            where = f"section {section_id}"
            if section_id in sections:
                raise ChecklistError(f"{where}: duplicate section id")
            part = _require(s, "part", where)
            if part not in PARTS:
                raise ChecklistError(f"{where}: part '{part}' is not one of {', '.join(PARTS)}")
            sections[section_id] = Section(
                section_id,
                str(part),
                str(s.get("number", "")),
                _text(s.get("title"), f"{where} title"),
                _text(s.get("intro"), f"{where} intro", required=False),
            )
        items: list[Item] = []
        seen: set[str] = set()
        for i in _require(raw, "items", "checklist"):
            item_id = str(_require(i, "id", "item"))
            where = f"item {item_id}"
            if item_id.upper() in seen:
                raise ChecklistError(f"{where}: duplicate item id")
            seen.add(item_id.upper())
            section_id = _require(i, "section", where)
            if section_id not in sections:
                raise ChecklistError(f"{where}: unknown section '{section_id}'")
            applies_to = tuple(_require(i, "applies_to", where))
            if not applies_to or any(a not in DELIVERY_TYPES for a in applies_to):
                raise ChecklistError(
                    f"{where}: applies_to must list one or both of {', '.join(DELIVERY_TYPES)}"
                )
            for flag in ("needs_evidence", "na_allowed"):
                if not isinstance(_require(i, flag, where), bool):
                    raise ChecklistError(f"{where}: {flag} must be true or false")
            max_age = _max_age(i.get("max_age"), where)
            derived_from = i.get("derived_from")
            if derived_from is not None and derived_from not in DERIVED_SOURCES:
                raise ChecklistError(
                    f"{where}: derived_from must be one of {', '.join(DERIVED_SOURCES)}"
                )
            items.append(
                Item(
                    id=item_id,
                    section=sections[section_id],
                    number=str(i.get("number", "")),
                    title=_text(_require(i, "title", where), f"{where} title"),
                    text=_text(_require(i, "text", where), f"{where} text"),
                    evidence=_text(_require(i, "evidence", where), f"{where} evidence"),
                    applies_to=applies_to,
                    applies_note=_text(i.get("applies_note"), f"{where} applies_note", required=False),
                    needs_evidence=i["needs_evidence"],
                    na_allowed=i["na_allowed"],
                    na_condition=_text(i.get("na_condition"), f"{where} na_condition", required=False),
                    max_age=max_age,
                    max_age_note=_text(
                        i.get("max_age_note"), f"{where} max_age_note", required=max_age is not None
                    ),
                    derived_from=derived_from,
                )
            )
        if not items:
            raise ChecklistError("the checklist has no items")
        resources = tuple(
            (_text(r.get("title"), "resource title"), _text(r.get("description"), "resource description"))
            for r in raw.get("resources", [])
        )
        return Checklist(
            id=str(_require(raw, "id", "checklist")),
            version=str(_require(raw, "version", "checklist")),
            published=str(raw.get("published", "")),
            title=_text(raw.get("title"), "checklist title"),
            intro=_text(raw.get("intro"), "checklist intro", required=False),
            email_subject=_text(raw.get("email_subject"), "checklist email_subject"),
            submission_email=str(_require(raw, "submission_email", "checklist")),
            categories=categories,
            delivery_types=delivery_types,
            parts=parts,
            sections=tuple(sections.values()),
            items=tuple(items),
            resources=resources,
            reminder_lead_days=_lead_days(raw.get("reminder_lead_days"), "checklist reminder_lead_days"),
        )
    except ChecklistError as error:
        raise fail(str(error)) from None
    except (TypeError, AttributeError) as error:
        raise fail(f"malformed structure ({error})") from None


def load_checklist(path: Path) -> Checklist:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ChecklistError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ChecklistError(f"{path}: cannot be read ({error.strerror})") from None
    return parse_checklist(raw, str(path))


@cache
def all_checklists(directory: Path = CHECKLIST_DIR) -> dict[str, Checklist]:
    """Every checklist in the directory, by id; loaded once per process."""
    checklists: dict[str, Checklist] = {}
    for path in sorted(directory.glob("*.toml")):
        checklist = load_checklist(path)
        if checklist.id in checklists:
            raise ChecklistError(f"{path}: checklist id '{checklist.id}' is already used by another file")
        checklists[checklist.id] = checklist
    return checklists


DEFAULT_CHECKLIST = "aws-retail-competency"


def get_checklist(checklist_id: str = DEFAULT_CHECKLIST) -> Checklist:
    checklists = all_checklists()
    if checklist_id not in checklists:
        raise ChecklistError(f"no checklist with id '{checklist_id}' in {CHECKLIST_DIR}")
    return checklists[checklist_id]
