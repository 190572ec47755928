"""The AWS Well-Architected Tool's custom lens JSON (schemaVersion 2021-11-01), both ways,
and an application's answers in the shape of the tool's ``UpdateAnswer`` call.

Pure: dictionaries in and out; the bot reads and writes the files.

The format's limits, from its published specification: at most 10 pillars, 20 questions a
pillar, 15 choices a question and 3 risk rules (one with the condition ``default``); ids
of 3–128 letters, digits and underscores; names and titles of at most 128 characters,
descriptions of at most 2,048. A choice whose id ends in ``_no`` is "None of these".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.application import EXPIRED, MET, NOT_APPLICABLE, NOT_MET, ApplicationState
from flows.checklist import DELIVERY_TYPES, LANGUAGES, PARTS, Checklist, Item

SCHEMA_VERSION = "2021-11-01"
MAX_PILLARS, MAX_QUESTIONS, MAX_CHOICES, MAX_RISK_RULES = 10, 20, 15, 3
MAX_TITLE, MAX_DESCRIPTION, MAX_NOTES = 128, 2048, 2084
ID_PATTERN = re.compile(r"^[A-Za-z0-9_]{3,128}$")
NONE_OF_THESE = "_no"
RISKS = ("HIGH_RISK", "MEDIUM_RISK", "LOW_RISK", "NO_RISK")
# A checklist id such as "T1.24" becomes "q_T1_d24": letters and digits kept, "_" doubled,
# "." and "-" as "_d" and "_h", anything else as "_x" and six hex digits; the prefix
# makes every id at least three characters long and says what it names.
_ESCAPES = {"_": "__", ".": "_d", "-": "_h"}
_UNESCAPES = {"_": "_", "d": ".", "h": "-"}
QUESTION, PILLAR = "q", "p"
IMPORTED_RELEASE = "1.0"  # the release of a checklist made from a lens, until its file says otherwise


def lens_id(prefix: str, checklist_id: str) -> str:
    encoded = "".join(c if c.isascii() and c.isalnum() else _ESCAPES.get(c, f"_x{ord(c):06x}")
                      for c in checklist_id)
    return f"{prefix}_{encoded}"


def checklist_id(identifier: str) -> str:
    """The checklist id a lens id stands for: ours decoded (``q_T1_d24`` is ``T1.24``; a
    pillar split in several, ``p2_technical``, is ``technical``), any other lens's kept."""
    match = re.fullmatch(r"[qp]\d*_((?:[A-Za-z0-9]|_[_dh]|_x[0-9a-f]{6})+)", identifier)
    if match is None:
        return identifier
    encoded, decoded, index = match.group(1), [], 0
    while index < len(encoded):
        if encoded[index] != "_":
            decoded.append(encoded[index])
            index += 1
        elif encoded[index + 1] == "x":
            decoded.append(chr(int(encoded[index + 2:index + 8], 16)))
            index += 8
        else:
            decoded.append(_UNESCAPES[encoded[index + 1]])
            index += 2
    return "".join(decoded)


def cut(text: str, limit: int) -> tuple[str, str]:
    """``text`` cut to ``limit`` characters at a word boundary (a Chinese text, which has
    no spaces, at a sentence mark or the limit itself), and the rest."""
    if len(text) <= limit:
        return text, ""
    room = limit - 1  # for the ellipsis
    at = max(text.rfind(" ", 0, room + 1), *(text.rfind(mark, 0, room) + 1 for mark in "。；，\n"))
    if at <= room // 2:
        at = room
    return text[:at].rstrip() + "…", text[at:].lstrip()


@dataclass(frozen=True)
class LensProblem:
    """Why a lens cannot be used (or written): the field, as a path, and the limit."""

    field: str  # "pillars[2].questions[5].title"
    problem: str  # too_long, too_few, too_many, bad_id, missing, no_default_rule, schema_version, duplicate_id
    limit: int | str = ""


class LensError(ValueError):
    def __init__(self, problems: list[LensProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.problem} {p.limit}".strip() for p in problems))


def _pillar_groups(checklist: Checklist) -> list[tuple[str, int, list[Item], str, int]]:
    """Per pillar: the id of its section or part, which of that group's pillars it is
    (0, 1…), its items, "section" or "part", and how many pillars the group has. The
    sections, or when they make more than ten pillars the parts; a group of more than
    twenty items is spread over several pillars."""
    for unit in ("section", "part"):
        groups: dict[str, list[Item]] = {}
        for item in checklist.items:
            groups.setdefault(item.section.id if unit == "section" else item.part, []).append(item)
        pillars = [(key, index, items[start:start + MAX_QUESTIONS])
                   for key, items in groups.items()
                   for index, start in enumerate(range(0, len(items), MAX_QUESTIONS))]
        if len(pillars) <= MAX_PILLARS:
            return [(key, index, chunk, unit, -(-len(groups[key]) // MAX_QUESTIONS)) for key, index, chunk in pillars]
    raise LensError([LensProblem("pillars", "too_many", MAX_PILLARS)])


def export_lens(checklist: Checklist, language: str, labels: dict[str, str]) -> dict:
    """The checklist as a custom lens in ``language``. ``labels`` words the bot's own
    texts ("met", "none", "evidence", "continued", "release"), already translated."""
    pillars = []
    for key, index, items, unit, count in _pillar_groups(checklist):
        if unit == "section":
            section = next(s for s in checklist.sections if s.id == key)
            name = f"{section.id} {section.title(language)}"
        else:
            name = checklist.part(key).title(language)
        if count > 1:
            name = f"{name} ({index + 1}/{count})"
        pillars.append({
            "id": lens_id(f"{PILLAR}{index + 1 if index else ''}", key),
            "name": cut(name, MAX_TITLE)[0],
            "questions": [_question(item, language, labels) for item in items],
        })
    release = f"{labels['release']} {checklist.release}" + (f" ({checklist.published})" if checklist.published else "")
    return {
        "schemaVersion": SCHEMA_VERSION,
        "name": cut(checklist.title(language), MAX_TITLE)[0],
        "description": cut(f"{release}. {checklist.intro(language)}".strip(), MAX_DESCRIPTION)[0],
        "pillars": pillars,
    }


def _question(item: Item, language: str, labels: dict[str, str]) -> dict:
    qid = lens_id(QUESTION, item.id)
    description, rest = cut(item.text(language), MAX_DESCRIPTION)
    evidence = f"{labels['evidence']}: {item.evidence(language)}"
    # The requirement goes on where the description stops, in the helpful resources of the
    # first choice and of "None of these": never lost (a text too long even for those is refused).
    first_rest, last_rest = cut(f"{labels['continued']}: {rest}", MAX_DESCRIPTION) if rest else ("", "")
    if last_rest:
        last_rest = _whole(f"{labels['continued']}: {last_rest}", f"{item.id} text")
    met: dict = {"id": f"{qid}_met", "title": labels["met"],
                 "improvementPlan": {"displayText": _whole(evidence, f"{item.id} evidence")}}
    choices = [met] if not item.answers else [
        {"id": lens_id(QUESTION, f"{item.id}.{choice.id}"), "title": cut(choice.title(language), MAX_TITLE)[0],
         "improvementPlan": {"displayText": _whole(evidence, f"{item.id} evidence")}}
        for choice in item.answers if not choice.id.endswith(NONE_OF_THESE)]
    if first_rest:
        choices[0]["helpfulResource"] = {"displayText": first_rest}
    choices.append({"id": f"{qid}{NONE_OF_THESE}", "title": labels["none"],
                    **({"helpfulResource": {"displayText": last_rest}} if last_rest else {})})
    good = " && ".join(choice["id"] for choice in choices[:-1])
    return {
        "id": qid,
        "title": cut(f"{item.id} {item.title(language)}", MAX_TITLE)[0],
        "description": description,
        "choices": choices,
        "riskRules": [{"condition": good, "risk": "NO_RISK"},
                      {"condition": "default", "risk": "HIGH_RISK"}],
    }


def _whole(text: str, where: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise LensError([LensProblem(where, "too_long", MAX_DESCRIPTION)])
    return text


def wa_answers(checklist: Checklist, state: ApplicationState, today_status, lens_alias: str = "LENS_ARN") -> list[dict]:
    """One ``UpdateAnswer`` request per item: its choices selected (the met choice, or
    "None of these" for an item not met), ``IsApplicable`` false for an item that does
    not apply or was answered not applicable, notes (evidence and note) of at most 2,084
    characters. ``today_status`` gives an item's status as of today (expired is not met)."""
    requests = []
    for item in checklist.items:
        qid = lens_id(QUESTION, item.id)
        answer = state.answer(item.id)
        status = today_status(answer) if item.applies(state.delivery_type) else NOT_APPLICABLE
        request: dict = {"WorkloadId": "WORKLOAD_ID", "LensAlias": lens_alias, "QuestionId": qid}
        if status == NOT_APPLICABLE:
            request.update(IsApplicable=False, Reason="OUT_OF_SCOPE", SelectedChoices=[])
        elif status == MET:
            chosen = [lens_id(QUESTION, f"{item.id}.{c.id}") for c in item.answers
                      if not c.id.endswith(NONE_OF_THESE)] or [f"{qid}_met"]
            request.update(IsApplicable=True, SelectedChoices=chosen)
        elif status in (NOT_MET, EXPIRED):
            request.update(IsApplicable=True, SelectedChoices=[f"{qid}{NONE_OF_THESE}"])
        else:
            continue  # not answered yet, or skipped: nothing to replay
        notes = "\n".join([*(e.text + (f" ({e.evidence_date.isoformat()})" if e.evidence_date else "")
                             for e in answer.evidence), *([answer.note] if answer.note else [])])
        if notes:
            request["Notes"] = cut(notes, MAX_NOTES)[0]
        requests.append(request)
    return requests


def lens_problems(lens: object) -> list[LensProblem]:
    """Everything that makes ``lens`` an invalid custom lens, each naming its field and limit."""
    if not isinstance(lens, dict):
        return [LensProblem("(lens)", "not_object")]
    problems: list[LensProblem] = []

    def text(value: object, field: str, limit: int, required: bool = True) -> None:
        if value is None and not required:
            return
        if not isinstance(value, str) or (required and not value.strip()):
            problems.append(LensProblem(field, "missing"))
        elif len(value) > limit:
            problems.append(LensProblem(field, "too_long", limit))

    def identifier(value: object, field: str, seen: set) -> None:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            problems.append(LensProblem(field, "bad_id", "3–128 [A-Za-z0-9_]"))
        elif value in seen:
            problems.append(LensProblem(field, "duplicate_id"))
        else:
            seen.add(value)

    def listed(value: object, field: str, limit: int) -> list:
        if not isinstance(value, list) or not value:
            problems.append(LensProblem(field, "too_few", 1))
            return []
        if len(value) > limit:
            problems.append(LensProblem(field, "too_many", limit))
        return [entry if isinstance(entry, dict) else {} for entry in value]

    if lens.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(LensProblem("schemaVersion", "schema_version", SCHEMA_VERSION))
    text(lens.get("name"), "name", MAX_TITLE)
    text(lens.get("description"), "description", MAX_DESCRIPTION, required=False)
    ids: set[str] = set()
    for p, pillar in enumerate(listed(lens.get("pillars"), "pillars", MAX_PILLARS)):
        where = f"pillars[{p}]"
        identifier(pillar.get("id"), f"{where}.id", ids)
        text(pillar.get("name"), f"{where}.name", MAX_TITLE)
        for q, question in enumerate(listed(pillar.get("questions"), f"{where}.questions", MAX_QUESTIONS)):
            at = f"{where}.questions[{q}]"
            identifier(question.get("id"), f"{at}.id", ids)
            text(question.get("title"), f"{at}.title", MAX_TITLE)
            text(question.get("description"), f"{at}.description", MAX_DESCRIPTION, required=False)
            choices = listed(question.get("choices"), f"{at}.choices", MAX_CHOICES)
            for c, choice in enumerate(choices):
                identifier(choice.get("id"), f"{at}.choices[{c}].id", ids)
                text(choice.get("title"), f"{at}.choices[{c}].title", MAX_TITLE)
                for extra in ("helpfulResource", "improvementPlan"):
                    if isinstance(choice.get(extra), dict):
                        text(choice[extra].get("displayText"), f"{at}.choices[{c}].{extra}.displayText",
                             MAX_DESCRIPTION)
            rules = listed(question.get("riskRules"), f"{at}.riskRules", MAX_RISK_RULES)
            if rules and not any(rule.get("condition") == "default" for rule in rules):
                problems.append(LensProblem(f"{at}.riskRules", "no_default_rule"))
            for r, rule in enumerate(rules):
                if rule.get("risk") not in RISKS:
                    problems.append(LensProblem(f"{at}.riskRules[{r}].risk", "bad_risk", ", ".join(RISKS)))
    return problems


def import_lens(lens: dict, new_id: str, texts: dict[str, dict[str, str]]) -> dict:
    """A checklist file's content (for TOML) from a valid custom lens: its pillars as
    sections of the technical part, its questions as items applying to both delivery
    types with no evidence window, their choices kept (without "None of these", which is
    the "not met" answer). ``texts`` holds the bot's words for the parts, the delivery
    types and the evidence prompt, by language. Raises :class:`LensError`."""
    problems = lens_problems(lens)
    if problems:
        raise LensError(problems)

    def both(value: str) -> dict[str, str]:
        return dict.fromkeys(LANGUAGES, value)

    sections, items = [], []
    for pillar in lens["pillars"]:
        section_id = checklist_id(pillar["id"])
        if all(s["id"] != section_id for s in sections):
            # A pillar this bot wrote from a part goes back into that part.
            part = section_id if section_id in PARTS else PARTS[-1]
            sections.append({"id": section_id, "part": part, "title": both(pillar["name"])})
        for question in pillar["questions"]:
            item_id = checklist_id(question["id"])
            choices = [c for c in question["choices"] if not c["id"].endswith(NONE_OF_THESE)]
            # The export puts the item's id before its title; the title alone comes back.
            title = question["title"].removeprefix(f"{item_id} ") or question["title"]
            item = {
                "id": item_id, "section": section_id, "title": both(title),
                "text": both(question.get("description") or question["title"]),
                "evidence": texts["evidence"], "applies_to": list(DELIVERY_TYPES),
                "needs_evidence": False, "na_allowed": True,
            }
            if not (len(choices) == 1 and choices[0]["id"] == f"{question['id']}_met"):
                item["answers"] = [{"id": checklist_id(c["id"]).removeprefix(f"{item_id}."), "title": both(c["title"])}
                                   for c in choices]
            items.append(item)
    return {
        "id": new_id, "version": IMPORTED_RELEASE, "published": "",
        "submission_email": "",
        "title": both(lens["name"]),
        "intro": both(lens.get("description") or ""),
        "email_subject": texts["email_subject"],
        "categories": [{"id": "all", "title": both(lens["name"]), "description": both(lens["name"])}],
        "delivery_types": [{"id": d, "title": texts[d], "description": texts[d]} for d in DELIVERY_TYPES],
        "parts": [{"id": part, "title": texts[part]} for part in PARTS],
        "sections": sections,
        "items": items,
    }
