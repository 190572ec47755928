"""The self-assessment exports: every format opens and holds every applicable item.

The documents are built with flows.export (case studies included) and rendered with
bot.exports; the command line and /competency export are run end to end. The HTML is
printed to PDF by headless Chromium (Debian's ``chromium``), as the README says.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.exports import ITEM_COLUMNS, render_document
from bot.render import render
from flows.application import Answer, ApplicationState, Evidence
from flows.case_studies import CaseStudy, SolutionDocuments
from flows.checklist import get_checklist
from flows.export import export_filename, part_rows, self_assessment
from tests.support.cli import ROOT, bot
from tests.support.slack import send_form, slash_command

TODAY = date(2026, 11, 28)
CHECKLIST = get_checklist()
HOSTILE = '<script>alert("x")</script> & Co'
EN_HEADER = [
    "Part", "Item", "Section", "Requirement", "SaaS", "Customer-deployed", "Applies to this application",
    "Status", "Met", "Evidence", "Evidence date", "Expires", "Note", "Answered by",
]
SAAS_ONLY = [i.id for i in CHECKLIST.items if i.applies_to == ("saas",)]
CUSTOMER_DEPLOYED_ONLY = [i.id for i in CHECKLIST.items if i.applies_to == ("customer_deployed",)]


def answers() -> dict[str, Answer]:
    return {
        "P1.1": Answer(status="met", answered_by="alice"),
        "P1.2": Answer(status="met", answered_by="alice", note="since 2024",
                       evidence=(Evidence("https://partner.example/tier", date(2026, 1, 5)),)),
        "P1.3": Answer(status="skipped", answered_by="bob"),
        "P1.4": Answer(status="not_met", answered_by="bob"),
        "P3.2": Answer(status="met", answered_by="carol",
                       evidence=(Evidence("Retail blog post", date(2025, 1, 2), date(2026, 1, 2)),)),
        "P4.3": Answer(status="not_applicable", answered_by="carol"),
        "T1.25": Answer(status="met", answered_by="dave",
                        evidence=(Evidence("PCI DSS report", date(2026, 6, 1), date(2027, 6, 1)),)),
        "T1.24": Answer(status="met", answered_by="erin"),  # SaaS only
    }


CASE_STUDY = CaseStudy(
    customer_name="Shop & Co", customer_website="https://shop.example", challenge="Peak traffic",
    deployment="Lift and shift", third_party="none", production_date=date(2026, 2, 1), in_production=True,
    outcomes="2x sales", category="stores", public=True, public_url="https://shop.example/story",
    diagram_file_id="F0DIAGRAM",
)


def document(delivery_type: str, language: str = "en", partner: str = "Acme") -> dict:
    state = ApplicationState(
        partner=partner, delivery_type=delivery_type, checklist_id=CHECKLIST.id, categories=("stores",),
        language=language, target_audit_date=date(2027, 3, 1), answers=answers(),
    )
    doc = self_assessment(CHECKLIST, state, TODAY, (CASE_STUDY,), SolutionDocuments(deployment_guide="https://docs.example/guide"))
    # bot.exports adds the case-study findings in words, as the application's walk says them
    return {**doc, "case_study_report": "Case-study findings."}


def word(macro: str, language: str, **params) -> str:
    return render("export/labels.j2", macro, language, **params)


# --- the document -------------------------------------------------------------------


def test_the_document_keeps_every_item_with_its_delivery_columns():
    doc = document("customer_deployed")
    applicable = [i["id"] for p in doc["parts"] for i in p["items"]]
    assert applicable == [i.id for i in CHECKLIST.applicable_items("customer_deployed")]
    rows = [row for part in doc["parts"] for row in part_rows(part)]
    assert [r["id"] for r in rows] == [i.id for i in CHECKLIST.items]
    by_id = {r["id"]: r for r in rows}
    assert {r["id"] for r in rows if not r["applicable"]} == set(SAAS_ONLY) and SAAS_ONLY
    assert by_id["T1.1"]["applies"] == {"saas": True, "customer_deployed": False}
    assert by_id["D2"]["applies"] == {"saas": False, "customer_deployed": True} and by_id["D2"]["applicable"]
    # the seed's met column: expired evidence no longer meets, open items stay blank
    assert [by_id[i]["met"] for i in ("P1.1", "P1.3", "P1.4", "P3.2", "P4.3", "T1.1", "D1")] == [
        "yes", "", "no", "no", "na", "na", ""]
    assert by_id["P3.2"]["status"] == "expired" and by_id["T1.1"]["status"] is None
    assert doc["case_studies"][0]["diagram"] == "F0DIAGRAM"
    assert doc["case_studies"][0]["category_title"] == "Physical, Digital and Virtual Stores"


@pytest.mark.parametrize(("language", "subject"), [
    ("en", "Acme, Retail Competency Technology Partner Completed Self-Assessment"),
    ("zh", "Acme，零售能力技术合作伙伴完成的自我评估"),
])
def test_the_email_subject_names_the_partner_in_every_format(language, subject):
    doc = document("saas", language)
    assert doc["email_subject"] == subject and doc["email_to"] == "competency-checklist@amazon.com"
    assert subject in render_document(doc, "md") and subject in render_document(doc, "html")
    assert json.loads(render_document(doc, "json"))["email_subject"] == subject
    cover = load_workbook(io.BytesIO(render_document(doc, "xlsx"))).worksheets[0]
    values = {row[0]: row[1] for row in cover.iter_rows(min_row=2, values_only=True)}
    assert values[word("label", language, name="email_subject")] == subject
    assert values[word("label", language, name="email_to")] == "competency-checklist@amazon.com"


# --- csv ----------------------------------------------------------------------------


def test_csv_has_a_bom_a_localised_header_and_one_row_per_item():
    text = render_document(document("customer_deployed"), "csv")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0] == EN_HEADER
    rows = {row[1]: dict(zip(ITEM_COLUMNS, row, strict=True)) for row in table[1:]}
    assert list(rows) == [i.id for i in CHECKLIST.items]
    assert rows["P1.2"] == {
        "part": "AWS Retail Competency Program Prerequisites", "id": "P1.2", "section": "APN Program Membership",
        "title": "Technology Partner Tier", "applies_saas": "Yes", "applies_customer_deployed": "Yes",
        "applicable": "Yes", "status": "met", "met": "Yes", "evidence": "https://partner.example/tier",
        "evidence_date": "2026-01-05", "expires_on": "", "note": "since 2024", "answered_by": "alice",
    }
    assert (rows["T1.25"]["status"], rows["T1.25"]["expires_on"]) == ("met", "2027-06-01")
    assert (rows["T1.24"]["status"], rows["T1.24"]["answered_by"]) == ("does not apply to customer-deployed", "")
    assert (rows["P3.2"]["status"], rows["P3.2"]["met"]) == ("expired", "No")
    assert [rows["T1.1"][c] for c in ("applies_saas", "applies_customer_deployed", "applicable", "status", "met")] == [
        "Yes", "No", "No", "does not apply to customer-deployed", "N/A"]


def test_csv_in_chinese():
    text = render_document(document("saas", "zh"), "csv")
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert table[0][1] == "条目" and table[0][7] == "状态"
    d2 = next(row for row in table if row[1] == "D2")
    assert d2[2] == "架构图、部署指南和已完成的验证清单"
    assert d2[4:7] == [word("yes_no", "zh", flag=False), word("yes_no", "zh", flag=True),
                       word("yes_no", "zh", flag=False)]
    assert next(row for row in table if row[1] == "P1.1")[7] == "满足"


# --- xlsx ---------------------------------------------------------------------------


def sheet_rows(sheet) -> dict[str, dict[str, str]]:
    header, *rows = sheet.iter_rows(values_only=True)
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


@pytest.mark.parametrize(("delivery_type", "not_applicable", "applicable_only_here"), [
    ("customer_deployed", SAAS_ONLY, CUSTOMER_DEPLOYED_ONLY),
    ("saas", CUSTOMER_DEPLOYED_ONLY, SAAS_ONLY),
])
def test_xlsx_sheets_frozen_headers_applicability_and_met_validation(delivery_type, not_applicable,
                                                                     applicable_only_here):
    doc = document(delivery_type)
    book = load_workbook(io.BytesIO(render_document(doc, "xlsx")))
    assert book.sheetnames == ["Cover", "Prerequisites", "Documents", "Technical validation", "Case studies"]
    cover = {row[0]: row[1] for row in book["Cover"].iter_rows(min_row=2, values_only=True)}
    assert cover["Partner"] == "Acme" and cover["Solution categories"] == "Physical, Digital and Virtual Stores"
    assert cover["Delivery type"] == {"saas": "SaaS", "customer_deployed": "customer-deployed"}[delivery_type]
    seen = {}
    for part, name in zip(doc["parts"], book.sheetnames[1:4], strict=True):
        sheet = book[name]
        assert sheet.freeze_panes == "A2"
        assert [c.value for c in sheet[1]] == EN_HEADER[1:]
        assert sheet.column_dimensions["B"].width > 20 and sheet["B2"].alignment.wrap_text
        (validation,) = sheet.data_validations.dataValidation
        assert validation.type == "list" and validation.formula1 == '"Yes,No,N/A"'
        assert str(validation.sqref) == f"H2:H{len(part_rows(part)) + 1}"
        assert [c.value for c in sheet["H"]][0] == "Met"
        seen |= sheet_rows(sheet)
    assert list(seen) == [i.id for i in CHECKLIST.items]
    for item_id in not_applicable:
        assert (seen[item_id]["Applies to this application"], seen[item_id]["Met"]) == ("No", "N/A")
    for item in CHECKLIST.items:
        row = seen[item.id]
        assert (row["SaaS"], row["Customer-deployed"]) == (
            "Yes" if item.applies("saas") else "No", "Yes" if item.applies("customer_deployed") else "No")
    for item_id in applicable_only_here:
        assert seen[item_id]["Applies to this application"] == "Yes"
        assert seen[item_id]["Status"] == ("met" if item_id == "T1.24" else "not answered")
    assert seen["P1.2"]["Evidence"] == "https://partner.example/tier" and seen["P1.2"]["Answered by"] == "alice"
    (case_study,) = sheet_rows(book["Case studies"]).values()
    assert case_study["customer name"] == "Shop & Co" and case_study["whether it is public"] == "Yes"
    assert case_study["solution category"] == "Physical, Digital and Virtual Stores"
    assert case_study["architecture diagram"] == "F0DIAGRAM"
    assert list(case_study)[1:4] == ["customer name", "customer website", "the customer's challenge"]


# --- html ---------------------------------------------------------------------------


class PageStructure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.rows: dict[str, str] = {}  # item id -> class
        self.style = ""
        self.text: list[str] = []
        self.external: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self._in_style = tag == "style"
        if tag == "tr" and "data-item" in attrs:
            self.rows[attrs["data-item"]] = attrs.get("class", "")
        for name in ("src", "href"):
            if attrs.get(name):
                self.external.append(attrs[name])

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def test_html_is_one_escaped_self_contained_page_with_every_item():
    page = PageStructure()
    page.feed(render_document(document("customer_deployed", partner=HOSTILE), "html"))
    assert "script" not in page.tags and page.external == [] and "link" not in page.tags
    assert HOSTILE in "".join(page.text)
    assert list(page.rows) == [i.id for i in CHECKLIST.items]
    assert {i for i, cls in page.rows.items() if "not-applicable" in cls} == set(SAAS_ONLY)
    assert "@page { size: A4" in page.style and "break-before: page" in page.style
    assert "thead { display: table-header-group; }" in page.style
    text = " ".join(page.text)
    assert "Shop & Co" in text and "https://docs.example/guide" in text
    assert "does not apply to customer-deployed" in text


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it with apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium): the HTML export is not printed")
    return path


def print_to_pdf(chromium: str, html: Path, pdf: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", html.as_uri()],
        capture_output=True, text=True, timeout=180,
    )


def test_chromium_prints_the_html_to_an_a4_pdf_with_a_page_per_part(chromium, tmp_path):
    html = tmp_path / export_filename("Acme", "html")
    html.write_text(render_document(document("saas"), "html"), encoding="utf-8")
    pdf = tmp_path / "out.pdf"
    run = print_to_pdf(chromium, html, pdf, tmp_path)
    assert run.returncode == 0 and pdf.exists(), run.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and 20_000 < len(data) < 20_000_000
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    # the header, then each part and the case studies from a new page
    assert 5 <= pages <= 60
    width, height = (float(v) for v in re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", data).groups())
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Acme, Retail Competency Technology Partner Completed Self-Assessment" in text
        assert all(item.id in text for item in CHECKLIST.items)


# --- file names ---------------------------------------------------------------------


@pytest.mark.parametrize(("partner", "expected"), [
    ("Acme Retail", "self-assessment-Acme-Retail.xlsx"),
    ("../../etc/x", "self-assessment-etc-x.xlsx"),
    ("a/b\\c:d*e?f\"g<h>i|j", "self-assessment-a-b-c-d-e-f-g-h-i-j.xlsx"),
    ("evil\x00\n\x1b[31mname", "self-assessment-evil-31mname.xlsx"),
    ("零售 公司", "self-assessment-零售-公司.xlsx"),
    ("..", "self-assessment-partner.xlsx"),
    ("x" * 500, "self-assessment-" + "x" * 80 + ".xlsx"),
])
def test_export_file_names_are_one_plain_name(partner, expected):
    name = export_filename(partner, "xlsx")
    assert name == expected and Path(name).name == name and name.isprintable()


# --- command line and Slack ---------------------------------------------------------


def test_cli_writes_every_format_and_refuses_an_unknown_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'export.db'}"
    assert bot(url, "chat", "--partner", "../../etc/x", "--delivery", "customer_deployed", "--categories",
               "stores", "--lang", "en", stdin="yes\n").returncode == 0
    for fmt in ("md", "html", "csv", "json", "xlsx"):
        out = tmp_path / f"given name.{fmt}"
        run = bot(url, "export", "--partner", "../../etc/x", "--format", fmt, "--output", str(out))
        assert run.returncode == 0 and run.stdout == "", run.stderr
    assert (tmp_path / "given name.csv").read_bytes().startswith(b"\xef\xbb\xbfPart,Item,")
    assert "P1.1" in (tmp_path / "given name.html").read_text(encoding="utf-8")
    technical = sheet_rows(load_workbook(tmp_path / "given name.xlsx")["Technical validation"])
    assert list(technical) == [i.id for i in CHECKLIST.items if i.part == "technical"]

    folder = tmp_path / "here"
    folder.mkdir()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "bot", "export", "--partner", "../../etc/x", "--format", "xlsx"],
                         capture_output=True, text=True, cwd=folder, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout == "self-assessment-etc-x.xlsx\n", run.stderr
    assert [p.name for p in folder.iterdir()] == ["self-assessment-etc-x.xlsx"]

    run = bot(url, "export", "--partner", "../../etc/x", "--format", "pdf")
    assert run.returncode == 2
    assert run.stderr == "competency-bot: unknown export format 'pdf': use one of md, html, csv, xlsx, json\n"


def test_slack_export_xlsx_uploads_a_workbook(started, server, slack_api):
    status, _ = send_form(server, slash_command("export xlsx"))
    assert status == 200
    completed = slack_api.wait_for("files.completeUploadExternal")[0]
    assert completed["channel_id"] == "CTEAM"
    assert slack_api.sent("files.getUploadURLExternal")[0]["filename"] == "self-assessment-Acme-Retail.xlsx"
    book = load_workbook(io.BytesIO(slack_api.uploads["F1"]))
    assert book.sheetnames[1:4] == ["Prerequisites", "Documents", "Technical validation"]
    assert {row[0]: row[1] for row in book["Cover"].iter_rows(values_only=True)}["Partner"] == "Acme Retail"


def test_slack_export_of_an_unknown_format_says_which_exist(started, server, slack_api):
    status, body = send_form(server, slash_command("export pdf"))
    assert status == 200 and "md, html, csv, xlsx" in body
    # An upload would come after the acknowledgement: a good export, asked for after the
    # refused one, marks when it would have been done; then only the good one is there.
    assert send_form(server, slash_command("export md"))[0] == 200
    slack_api.wait_for("files.completeUploadExternal")
    assert [u["filename"] for u in slack_api.sent("files.getUploadURLExternal")] == ["self-assessment-Acme-Retail.md"]
