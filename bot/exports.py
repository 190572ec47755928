"""Exports of an application's self-assessment, in every format the bot offers."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from markupsafe import Markup

from bot.render import render, render_file
from flows.application import ApplicationState
from flows.checklist import get_checklist
from flows.evidence import local_today
from flows.export import CASE_STUDY_COLUMNS, MET_CHOICES, part_rows, self_assessment
from flows.text import clean_all
from storage import case_studies as case_study_store
from storage.db import Database

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

LABELS = "export/labels.j2"
# The columns of the item table (CSV); an xlsx sheet holds one part, so it drops "part".
ITEM_COLUMNS = (
    "part", "id", "section", "title", "applies_saas", "applies_customer_deployed", "applicable",
    "status", "met", "evidence", "evidence_date", "expires_on", "note", "answered_by",
    "reviewed_by", "review_decision", "reviewed_on", "review_reason",
)
SHEET_COLUMNS = ITEM_COLUMNS[1:]
COVER_FIELDS = (
    "partner", "delivery_type", "categories", "target_audit_date", "version", "as_of", "email_to", "email_subject",
)
MAX_COLUMN_WIDTH = 60
MAX_SHEET_TITLE = 31  # Excel's limit
# A cell starting with one of these is a formula to a spreadsheet (OWASP's CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The only schemes a Markdown export links; any other text stays text.
LINKED_SCHEMES = frozenset({"http", "https", "mailto"})
# Markdown's inline syntax (and the table's cell separator): escaped in every text.
MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]|~])")


def render_export(db: Database, state: ApplicationState, fmt: str, now: datetime) -> str | bytes:
    checklist = get_checklist(*state.release_key)
    cases = case_study_store.overview(db, state.id, now)
    document = {
        **self_assessment(checklist, state, local_today(now, state.timezone), cases.case_studies, cases.documents),
        # The findings in plain words, as the terminal's "case check" says them.
        "case_study_report": render("case_studies.j2", "report", state.language, overview=cases),
    }
    return render_document(document, fmt)


def render_document(document: dict, fmt: str) -> str | bytes:
    """A :func:`flows.export.self_assessment` document in one of :data:`FORMATS`: text,
    or bytes for xlsx. Its texts are cleaned first, in place (:func:`flows.text.clean`):
    what was stored before input was cleaned must not break a format or reach a terminal."""
    return RENDERERS[fmt](clean_all(document))


def _json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _markdown(document: dict) -> str:
    return render_file("export/self_assessment.md.j2", document["language"], style="markdown",
                       doc=_markdown_values(document), rows=part_rows, case_study_columns=CASE_STUDY_COLUMNS)


# The document's codes, which the templates turn into words ("not_met" is "not met"):
# escaped, "not\_met" would be no code they know.
_CODES = frozenset({"status", "delivery_type", "language", "decision"})


def _markdown_values(value):
    """The document with every text as Markdown that shows it literally: HTML and
    Markdown syntax escaped, so no text becomes a tag, a link or formatting; a text that
    is one http, https or mailto URL becomes a link (an autolink). Codes stay as they are."""
    if isinstance(value, dict):
        return {key: item if key in _CODES else _markdown_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_markdown_values(item) for item in value]
    if not isinstance(value, str):
        return value
    if _linkable(value):
        return Markup(f"<{value}>")
    return Markup(MARKDOWN_SYNTAX.sub(r"\\\1", html.escape(value, quote=False)))


def _linkable(text: str) -> bool:
    # An autolink ends at a space or ">" and a table splits it at "|": such a URL stays text.
    if any(c.isspace() or c in '<>|"`\\' for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in LINKED_SCHEMES and bool(parts.netloc or parts.scheme.lower() == "mailto")


def _html(document: dict) -> str:
    return render_file(
        "export/self_assessment.html.j2", document["language"], style="html",
        doc=document, rows=part_rows, case_study_columns=CASE_STUDY_COLUMNS,
    )


def _csv(document: dict) -> str:
    # The byte-order mark is how Excel knows a CSV file is UTF-8 (else Chinese is garbled).
    language = document["language"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_inert(render(LABELS, "label", language, name=name)) for name in ITEM_COLUMNS)
    for part in document["parts"]:
        for row in part_rows(part):
            cells = _item_cells(document, part, row)
            writer.writerow(_inert(cells[name]) for name in ITEM_COLUMNS)
    return "\ufeff" + buffer.getvalue()


def _item_cells(document: dict, part: dict, row: dict) -> dict[str, str]:
    """One row of the item table as localised text, by column name."""
    language = document["language"]

    def yes_no(flag: bool) -> str:
        return render(LABELS, "yes_no", language, flag=flag)

    return {
        "part": part["title"],
        "id": row["id"],
        "section": row["section"],
        "title": row["title"],
        "applies_saas": yes_no(row["applies"]["saas"]),
        "applies_customer_deployed": yes_no(row["applies"]["customer_deployed"]),
        "applicable": yes_no(row["applicable"]),
        "status": render(LABELS, "row_status", language, row=row, delivery_type=document["delivery_type"]),
        "met": render(LABELS, "met_label", language, met=row["met"]),
        "evidence": "\n".join(e["text"] for e in row["evidence"]),
        "evidence_date": "\n".join(e["date"] or "" for e in row["evidence"]).strip(),
        "expires_on": row["expires_on"] or "",
        "note": row["note"],
        "answered_by": row["answered_by"],
        "reviewed_by": (row["sign_off"] or {}).get("reviewer", ""),
        "review_decision": render("common.j2", "decision_label", language,
                                  decision=(row["sign_off"] or {}).get("decision")),
        "reviewed_on": (row["sign_off"] or {}).get("date", ""),
        "review_reason": (row["sign_off"] or {}).get("reason", ""),
    }


def _xlsx(document: dict) -> bytes:
    # Imported here: openpyxl costs the web process some 13 MB, and xlsx exports are rare.
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    language = document["language"]

    def label(name: str) -> str:
        return render(LABELS, "label", language, name=name)

    workbook = Workbook()
    cover = workbook.active
    cover.title = _sheet_title(label("cover"))
    cover_values = {
        "partner": document["partner"],
        "delivery_type": render("common.j2", "delivery_label", language, delivery_type=document["delivery_type"]),
        "categories": render("common.j2", "name_list", language, names=[c["title"] for c in document["categories"]]),
        "target_audit_date": document["target_audit_date"] or "",
        "version": document["version"],
        "as_of": document["as_of"],
        "email_to": document["email_to"],
        "email_subject": document["email_subject"],
    }
    _fill_sheet(cover, [document["checklist_title"], ""], [[label(n), cover_values[n]] for n in COVER_FIELDS])

    met_choices = ",".join(render(LABELS, "met_label", language, met=met) for met in MET_CHOICES)
    met_column = get_column_letter(SHEET_COLUMNS.index("met") + 1)
    for part in document["parts"]:
        sheet = workbook.create_sheet(_sheet_title(part["title"]))
        rows = [
            [cells[name] for name in SHEET_COLUMNS]
            for cells in (_item_cells(document, part, row) for row in part_rows(part))
        ]
        _fill_sheet(sheet, [label(name) for name in SHEET_COLUMNS], rows)
        validation = DataValidation(type="list", formula1=f'"{met_choices}"', allow_blank=True)
        sheet.add_data_validation(validation)
        validation.add(f"{met_column}2:{met_column}{len(rows) + 1}")

    case_studies = workbook.create_sheet(_sheet_title(label("case_studies")))
    _fill_sheet(
        case_studies,
        [label("case_study")] + [label(name) for name in CASE_STUDY_COLUMNS],
        [
            [str(number)] + [render(LABELS, "case_study_value", language, case_study=cs, name=name)
                             for name in CASE_STUDY_COLUMNS]
            for number, cs in enumerate(document["case_studies"], start=1)
        ],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fill_sheet(sheet: Worksheet, header: list[str], rows: list[list[str]]) -> None:
    """A header row frozen above wrapped rows, columns as wide as their text allows."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append([_inert(text) for text in header])
    for row in rows:
        sheet.append([_inert(text) for text in row])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    bold = Font(bold=True)
    shade = PatternFill("solid", fgColor="EAEDED")
    wrap = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font, cell.fill, cell.alignment = bold, shade, wrap
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
    for index, column in enumerate(zip(header, *rows, strict=True), start=1):
        widest = max(_display_width(line) for text in column for line in str(text).splitlines() or [""])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widest, 6) + 2, MAX_COLUMN_WIDTH)


def _inert(text: str) -> str:
    """A cell no spreadsheet takes for a formula: one that would be starts with an
    apostrophe, as OWASP advises (and openpyxl then writes it as text, not a formula)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _display_width(text: str) -> int:
    # Chinese characters take two columns in a spreadsheet cell.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _sheet_title(text: str) -> str:
    return text[:MAX_SHEET_TITLE]


RENDERERS = {"md": _markdown, "html": _html, "csv": _csv, "xlsx": _xlsx, "json": _json}
FORMATS = tuple(RENDERERS)
