"""The checklist as data: loading and validating the TOML files in ``flows/checklists``
(and the operator's folder, :func:`use_folders`).

A release of a competency checklist is one TOML file. Adding another competency, or a
newer release of one, means adding another file; nothing here is specific to the retail
checklist. Problems are :class:`ChecklistError` codes with their place in the file; the
bot words them (templates/releases.j2).
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
    """A checklist file that cannot be used. It names the file, the place in it (``kind``
    and ``key``: "item" "T1.1"), the field and the problem, as a code with its details, so
    the bot words it in the operator's language (templates/checklist_files.j2)."""

    def __init__(self, problem: str, *, source: str = "", kind: str = "checklist", key: str = "",
                 field: str = "", **details: object) -> None:
        self.problem, self.source, self.kind, self.key, self.field = problem, source, kind, key, field
        self.details = details
        super().__init__(problem)

    def located(self, **where: str) -> ChecklistError:
        """The same problem, with the place filled in where it was not known yet."""
        for name, value in where.items():
            if not getattr(self, name):
                setattr(self, name, value)
        return self

    def __str__(self) -> str:
        place = " ".join(part for part in (self.kind, self.key) if part)
        details = ", ".join(f"{name}={value}" for name, value in self.details.items())
        return ": ".join(part for part in (self.source, place, self.field, self.problem, details) if part)


@dataclass(frozen=True)
class Text:
    """A text in every language of the checklist."""

    zh: str
    en: str

    def __call__(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class Choice:
    """One answer a question offers (from a Well-Architected lens)."""

    id: str
    title: Text


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
    answers: tuple[Choice, ...] = ()  # a lens question's choices; empty: met / not met / not applicable

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
    # The release's validity, where its source states it: answers to it count from
    # ``valid_from``, and AWS accepts audits against it until ``accepted_until``.
    valid_from: date | None = None
    accepted_until: date | None = None
    # Built from the items (never passed in: a ``replace`` with other items must not share them).
    _by_id: dict[str, Item] = field(default_factory=dict, init=False, repr=False, compare=False)
    _applicable: dict[str, tuple[Item, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _places: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _part_places: dict[str, tuple[tuple[Part, tuple[int, ...]], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _categories: dict[str, Category] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({item.id.upper(): item for item in self.items})
        self._categories.update({category.id: category for category in self.categories})
        for delivery_type in DELIVERY_TYPES:
            self._applicable[delivery_type] = tuple(item for item in self.items if item.applies(delivery_type))
            self._places[delivery_type] = {item.id: n for n, item in enumerate(self._applicable[delivery_type])}
            self._part_places[delivery_type] = self._places_by_part(self._applicable[delivery_type])

    @property
    def release(self) -> str:
        """The release this file is: its version ("1.0")."""
        return self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    def accepted_on(self, day: date) -> bool:
        """Whether an audit on ``day`` may still answer this release."""
        return self.accepted_until is None or day <= self.accepted_until

    def item(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id.strip().upper())

    def applicable_items(self, delivery_type: str) -> tuple[Item, ...]:
        """In checklist order; computed once per checklist (it is on every hot path)."""
        found = self._applicable.get(delivery_type)
        return found if found is not None else tuple(item for item in self.items if item.applies(delivery_type))

    def places(self, delivery_type: str) -> dict[str, int]:
        """Item id → its index in :meth:`applicable_items`: every step of a walk looks its
        items up, and a scan of the tuple made a walk's late items cost more than its first."""
        found = self._places.get(delivery_type)
        return found if found is not None else {
            item.id: n for n, item in enumerate(self.applicable_items(delivery_type))}

    def part_places(self, delivery_type: str) -> tuple[tuple[Part, tuple[int, ...]], ...]:
        """Each part, in checklist order, with the indexes of its items in
        :meth:`applicable_items`: a digest counts every application's statuses per part."""
        found = self._part_places.get(delivery_type)
        return found if found is not None else self._places_by_part(self.applicable_items(delivery_type))

    def _places_by_part(self, items: tuple[Item, ...]) -> tuple[tuple[Part, tuple[int, ...]], ...]:
        return tuple((part, tuple(n for n, item in enumerate(items) if item.part == part.id)) for part in self.parts)

    def category(self, category_id: str) -> Category | None:
        return self._categories.get(category_id)

    def part(self, part_id: str) -> Part:
        return next(p for p in self.parts if p.id == part_id)


def _text(raw: object, field: str, *, required: bool = True) -> Text:
    if raw is None and not required:
        return Text("", "")
    if not isinstance(raw, dict):
        raise ChecklistError("not_texts", field=field)
    values = {}
    for language in LANGUAGES:
        value = raw.get(language)
        if not isinstance(value, str) or (required and not value.strip()):
            raise ChecklistError("missing_text", field=field, language=language)
        values[language] = value.strip()
    return Text(**values)


def _max_age(raw: object) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ChecklistError("bad_max_age", field="max_age")
    for key, value in raw.items():
        if key not in MAX_AGE_KEYS:
            raise ChecklistError("max_age_key", field="max_age", value=key, allowed=", ".join(MAX_AGE_KEYS))
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ChecklistError("max_age_amount", field="max_age", value=key)
    return dict(raw)


def _lead_days(raw: object) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in raw):
        raise ChecklistError("bad_lead_days", field="reminder_lead_days")
    return tuple(sorted(set(raw), reverse=True))


def _day(raw: object, field: str) -> date | None:
    """An optional release date: a TOML date, or text in ISO form (2020-06-30)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ChecklistError("bad_date", field=field, value=str(raw)) from None


def _require(raw: dict, key: str) -> object:
    if key not in raw:
        raise ChecklistError("missing_field", field=key)
    return raw[key]


def _table(kind: str, raw: dict, build):
    """Build one table of the file (a category, a section, an item…): a problem in it
    names the table by its id."""
    key = str(raw.get("id", "")) if isinstance(raw, dict) else ""
    try:
        return build(raw)
    except ChecklistError as error:
        if error.kind == "checklist":  # not placed deeper down
            error.kind, error.key = kind, key
        raise


def parse_checklist(raw: dict, source: str) -> Checklist:
    """Build a :class:`Checklist` from parsed TOML, or raise :class:`ChecklistError`."""
    try:
        categories = tuple(
            _table("category", c, lambda c: Category(
                str(_require(c, "id")), _text(c.get("title"), "title"), _text(c.get("description"), "description")))
            for c in _require(raw, "categories")
        )
        delivery_types = tuple(
            _table("delivery type", d, lambda d: DeliveryType(
                str(_require(d, "id")), _text(d.get("title"), "title"), _text(d.get("description"), "description")))
            for d in _require(raw, "delivery_types")
        )
        if sorted(d.id for d in delivery_types) != sorted(DELIVERY_TYPES):
            raise ChecklistError("delivery_types_fixed", field="delivery_types", allowed=", ".join(DELIVERY_TYPES))
        parts = tuple(
            _table("part", p, lambda p: Part(
                str(_require(p, "id")), _text(p.get("title"), "title"), _text(p.get("intro"), "intro", required=False)))
            for p in _require(raw, "parts")
        )
        if tuple(p.id for p in parts) != PARTS:
            raise ChecklistError("parts_fixed", field="parts", allowed=", ".join(PARTS))
        sections: dict[str, Section] = {}

        def section(s: dict) -> Section:
            section_id = str(_require(s, "id"))
            if section_id in sections:
                raise ChecklistError("duplicate_id", field="id")
            part = _require(s, "part")
            if part not in PARTS:
                raise ChecklistError("unknown_part", field="part", value=str(part), allowed=", ".join(PARTS))
            return Section(section_id, str(part), str(s.get("number", "")), _text(s.get("title"), "title"),
                           _text(s.get("intro"), "intro", required=False))

        for s in _require(raw, "sections"):
            built = _table("section", s, section)
            sections[built.id] = built
        seen: set[str] = set()

        def item(i: dict) -> Item:
            item_id = str(_require(i, "id"))
            if item_id.upper() in seen:
                raise ChecklistError("duplicate_id", field="id")
            seen.add(item_id.upper())
            section_id = _require(i, "section")
            if section_id not in sections:
                raise ChecklistError("unknown_section", field="section", value=str(section_id))
            applies_to = tuple(_require(i, "applies_to"))
            if not applies_to or any(a not in DELIVERY_TYPES for a in applies_to):
                raise ChecklistError("bad_applies_to", field="applies_to", allowed=", ".join(DELIVERY_TYPES))
            for flag in ("needs_evidence", "na_allowed"):
                if not isinstance(_require(i, flag), bool):
                    raise ChecklistError("not_boolean", field=flag)
            max_age = _max_age(i.get("max_age"))
            derived_from = i.get("derived_from")
            if derived_from is not None and derived_from not in DERIVED_SOURCES:
                raise ChecklistError("bad_derived_from", field="derived_from", allowed=", ".join(DERIVED_SOURCES))
            return Item(
                id=item_id,
                section=sections[section_id],
                number=str(i.get("number", "")),
                title=_text(_require(i, "title"), "title"),
                text=_text(_require(i, "text"), "text"),
                evidence=_text(_require(i, "evidence"), "evidence"),
                applies_to=applies_to,
                applies_note=_text(i.get("applies_note"), "applies_note", required=False),
                needs_evidence=i["needs_evidence"],
                na_allowed=i["na_allowed"],
                na_condition=_text(i.get("na_condition"), "na_condition", required=False),
                max_age=max_age,
                max_age_note=_text(i.get("max_age_note"), "max_age_note", required=max_age is not None),
                derived_from=derived_from,
                answers=_answers(i.get("answers")),
            )

        items = [_table("item", i, item) for i in _require(raw, "items")]
        if not items:
            raise ChecklistError("no_items", field="items")
        resources = tuple(
            _table("resource", r,
                   lambda r: (_text(r.get("title"), "title"), _text(r.get("description"), "description")))
            for r in raw.get("resources", [])
        )
        return Checklist(
            id=str(_require(raw, "id")),
            version=str(_require(raw, "version")),
            published=str(raw.get("published", "")),
            valid_from=_day(raw.get("valid_from"), "valid_from"),
            accepted_until=_day(raw.get("accepted_until"), "accepted_until"),
            title=_text(raw.get("title"), "title"),
            intro=_text(raw.get("intro"), "intro", required=False),
            email_subject=_text(raw.get("email_subject"), "email_subject"),
            submission_email=str(_require(raw, "submission_email")),
            categories=categories,
            delivery_types=delivery_types,
            parts=parts,
            sections=tuple(sections.values()),
            items=tuple(items),
            resources=resources,
            reminder_lead_days=_lead_days(raw.get("reminder_lead_days")),
        )
    except ChecklistError as error:
        raise error.located(source=source) from None
    except (TypeError, AttributeError) as error:
        raise ChecklistError("malformed", source=source, detail=str(error)) from None


def _answers(raw: object) -> tuple[Choice, ...]:
    """The answers a lens question offers, kept when a lens becomes a checklist (the
    retail checklist's items have none: met / not met / not applicable)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ChecklistError("bad_answers", field="answers")
    return tuple(Choice(str(_require(c, "id")), _text(c.get("title"), "answers.title")) for c in raw)


def load_checklist(path: Path) -> Checklist:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ChecklistError("not_toml", source=str(path), detail=str(error)) from None
    except OSError as error:
        raise ChecklistError("unreadable", source=str(path), detail=error.strerror or str(error)) from None
    return parse_checklist(raw, str(path))


DEFAULT_CHECKLIST = "aws-retail-competency"
# Where checklists are installed: the product's own folder, then the operator's (set by
# the bot from its settings; ``competency-bot checklist import-lens`` writes there).
_folders: list[Path] = [CHECKLIST_DIR]


def use_folders(*folders: Path) -> None:
    """Install the checklists of these folders beside the product's own (read again from
    the files on the next use)."""
    _folders[:] = [CHECKLIST_DIR, *folders]
    all_checklists.cache_clear()
    installed_releases.cache_clear()


def installed_folders() -> tuple[Path, ...]:
    return tuple(_folders)


def release_order(checklist: Checklist) -> tuple:
    """Older releases sort first: by valid-from date, publication, then version number."""
    numbers = tuple(int(n) if n.isdigit() else 0 for n in checklist.version.split("."))
    return (checklist.valid_from or _published_day(checklist.published), numbers)


def _published_day(published: str) -> date:
    """The first day of a publication date given as 2019-12 or 2019-12-05 (date.min when unknown)."""
    try:
        return date.fromisoformat(published if len(published) > 7 else f"{published}-01")
    except ValueError:
        return date.min


@cache
def all_checklists(directory: Path = CHECKLIST_DIR) -> dict[tuple[str, str], Checklist]:
    """Every release in the directory, by (checklist id, release); loaded once per process."""
    found: dict[tuple[str, str], Checklist] = {}
    for path in sorted(directory.glob("*.toml")):
        checklist = load_checklist(path)
        if checklist.key in found:
            raise ChecklistError("duplicate_release", source=str(path), field="version",
                                 checklist=checklist.id, release=checklist.release)
        found[checklist.key] = checklist
    return found


@cache
def installed_releases() -> dict[tuple[str, str], Checklist]:
    """Every installed release by (checklist id, release), and each checklist's newest
    under (checklist id, ""): an application stored without a release reads that one."""
    found: dict[tuple[str, str], Checklist] = {}
    for folder in _folders:
        for key, checklist in all_checklists(folder).items():
            if key in found:
                raise ChecklistError("duplicate_release", source=str(folder), field="version",
                                     checklist=checklist.id, release=checklist.release)
            found[key] = checklist
    for checklist in sorted(found.values(), key=release_order):
        found[(checklist.id, "")] = checklist
    return found


def releases_of(checklist_id: str) -> list[Checklist]:
    """The installed releases of one checklist, oldest first."""
    return sorted((c for (cid, release), c in installed_releases().items() if cid == checklist_id and release),
                  key=release_order)


def checklist_ids() -> list[str]:
    return sorted({cid for cid, _ in installed_releases()})


def get_checklist(checklist_id: str = DEFAULT_CHECKLIST, release: str = "") -> Checklist:
    """One installed release; without ``release``, the newest of the checklist."""
    found = installed_releases().get((checklist_id, release))
    if found is None:
        if (checklist_id, "") in installed_releases():
            raise ChecklistError("no_release", checklist=checklist_id, release=release,
                                 releases=", ".join(c.release for c in releases_of(checklist_id)))
        raise ChecklistError("no_checklist", checklist=checklist_id,
                             folders=", ".join(str(f) for f in _folders))
    return found


def find_release(spec: str, checklist_id: str = "") -> Checklist:
    """A release named on the command line: a file path, ``ID@RELEASE``, a checklist id
    (its newest release) or, given ``checklist_id``, one of its releases."""
    path = Path(spec)
    if spec.endswith(".toml") or path.is_file():
        return load_checklist(path)
    if "@" in spec:
        checklist, _, release = spec.partition("@")
        return get_checklist(checklist, release)
    if checklist_id and (checklist_id, spec) in installed_releases():
        return get_checklist(checklist_id, spec)
    return get_checklist(spec)
