"""Typing a case study in one field at a time, and the words of the case-study commands.

Pure: an adapter feeds one line in and gets messages out (macros of
``templates/case_studies.j2``) and, once the last field is accepted, a validated
:class:`~flows.case_studies.CaseStudy` to store. Each answer is checked with
:func:`~flows.case_studies.validate_case_study` as soon as it is typed, so a bad value
gets its reason and the same question again, never a failure at the end.

Nothing is stored before the last field: a case study abandoned half-way (``cancel``,
or the end of input) leaves no half-filled row behind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from flows.case_studies import (
    DEPLOYMENT_GUIDE,
    FIELDS,
    OVERALL_DIAGRAM,
    PUBLIC_NEEDS_URL,
    REQUIRED,
    REQUIRED_FIELDS,
    CaseStudy,
    case_study_fields,
    validate_case_study,
    yes_no,
)
from flows.checklist import Checklist
from flows.walk import Message

# The fields asked, in the seed's order (the public URL only for a public case study);
# an uploaded file id is Slack's business, not a question.
ASKED = tuple(name for name in FIELDS if name != "diagram_file_id")
CANCEL_WORDS = ("cancel", "取消")

_ADD = ("case", "案例")
_LIST = ("cases", "case list", "案例列表", "案例 列表")
_CHECK = ("case check", "案例检查", "案例 检查")
_EDIT = ("case edit", "案例 编辑", "案例编辑")
_DOCUMENTS = (
    ("document diagram", OVERALL_DIAGRAM),
    ("document guide", DEPLOYMENT_GUIDE),
    ("文档 架构图", OVERALL_DIAGRAM),
    ("文档架构图", OVERALL_DIAGRAM),
    ("文档 指南", DEPLOYMENT_GUIDE),
    ("文档指南", DEPLOYMENT_GUIDE),
)
_DOCUMENT = ("document", "文档")


@dataclass(frozen=True)
class CaseCommand:
    name: str  # add, list, check, edit, document
    argument: str = ""  # edit: the case study's number; document: the link
    kind: str = ""  # document: OVERALL_DIAGRAM or DEPLOYMENT_GUIDE ("" = not said)


def _after(text: str, prefix: str) -> str | None:
    """The rest of ``text`` after the command ``prefix``, or None when it is not that command.
    English words need a space after them; Chinese ones are often typed without."""
    lowered = text.casefold()
    if lowered == prefix:
        return ""
    if lowered.startswith(prefix + " ") or (not prefix.isascii() and lowered.startswith(prefix)):
        return text[len(prefix):].strip()
    return None


def parse_case_command(line: str) -> CaseCommand | None:
    """A case-study command, or None for anything the walk should handle. Only these
    exact forms are taken, so evidence text that starts with "case" still reaches the walk."""
    text = " ".join(line.split())
    lowered = text.casefold()
    if lowered in _ADD:
        return CaseCommand("add")
    if lowered in _LIST:
        return CaseCommand("list")
    if lowered in _CHECK:
        return CaseCommand("check")
    for prefix in _EDIT:
        rest = _after(text, prefix)
        if rest is not None:
            return CaseCommand("edit", rest)
    for prefix, kind in _DOCUMENTS:
        rest = _after(text, prefix)
        if rest is not None:
            return CaseCommand("document", rest, kind)
    for prefix in _DOCUMENT:
        rest = _after(text, prefix)
        if rest is not None:
            return CaseCommand("document", rest)
    return None


@dataclass(frozen=True)
class Capture:
    """A case study being typed in: the form fields so far and the field being asked."""

    fields: dict[str, str]  # as validate_case_study reads them
    asking: str
    number: int  # shown as "case study N"
    case_study_id: int | None = None  # set when editing a stored case study

    @property
    def editing(self) -> bool:
        return self.case_study_id is not None


@dataclass(frozen=True)
class CaptureStep:
    capture: Capture | None  # None once finished or cancelled
    messages: tuple[Message, ...]
    case_study: CaseStudy | None = None  # every field accepted: the adapter stores this


def _ask(capture: Capture, checklist: Checklist) -> Message:
    current = capture.fields[capture.asking] if capture.editing else ""
    return Message("ask_field", {"name": capture.asking, "current": current, "categories": checklist.categories})


def start_capture(checklist: Checklist, number: int, existing: CaseStudy | None = None) -> CaptureStep:
    """Begin a new case study, or an edit of ``existing`` (Enter keeps each stored value)."""
    fields = case_study_fields(existing) if existing else dict.fromkeys(FIELDS, "")
    capture = Capture(fields, ASKED[0], number, existing.id if existing else None)
    started = Message("capture_started", {"number": number, "editing": capture.editing})
    return CaptureStep(capture, (started, _ask(capture, checklist)))


def _problem(fields: dict[str, str], name: str, checklist: Checklist, today: date) -> str | None:
    _, problems = validate_case_study(fields, checklist, today, submit=False)
    if name in problems:
        return problems[name]
    if not fields[name].strip():
        if name in REQUIRED_FIELDS:
            return REQUIRED
        if name == "public_url":  # only asked of a public case study
            return PUBLIC_NEEDS_URL
    return None


def _following(name: str, fields: dict[str, str]) -> str | None:
    for candidate in ASKED[ASKED.index(name) + 1:]:
        if candidate == "public_url" and yes_no(fields["public"]) is not True:
            continue
        return candidate
    return None


def capture_step(capture: Capture, line: str, checklist: Checklist, today: date) -> CaptureStep:
    """Take the answer to the field being asked: the next question, the same one again
    with the reason, or (after the last field) the finished case study."""
    value = line.strip()
    if value.casefold() in CANCEL_WORDS:
        return CaptureStep(None, (Message("capture_cancelled", {"number": capture.number}),))
    name = capture.asking
    if not value and capture.editing:
        value = capture.fields[name]
    if name == "category" and value.isdigit() and 1 <= int(value) <= len(checklist.categories):
        value = checklist.categories[int(value) - 1].id
    fields = {**capture.fields, name: value}
    problem = _problem(fields, name, checklist, today)
    if problem is not None:
        return CaptureStep(capture, (Message("field_problem", {"name": name, "code": problem}),
                                     _ask(capture, checklist)))
    if name == "public" and yes_no(value) is not True:
        fields["public_url"] = ""
    if name == "diagram" and value != capture.fields["diagram"]:
        fields["diagram_file_id"] = ""  # a new link replaces an uploaded file
    following = _following(name, fields)
    if following is not None:
        moved = replace(capture, fields=fields, asking=following)
        return CaptureStep(moved, (_ask(moved, checklist),))
    # Every field was accepted on its own as it was typed, so the whole case study passes.
    case_study, _ = validate_case_study(fields, checklist, today)
    return CaptureStep(None, (), replace(case_study, id=capture.case_study_id))
