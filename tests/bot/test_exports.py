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
import unicodedata
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

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
    "Reviewer", "Decision", "Decision date", "Reason",
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
        "part": "Prerequisites", "id": "P1.2", "section": "APN Program Membership",
        "title": "Technology Partner Tier", "applies_saas": "Yes", "applies_customer_deployed": "Yes",
        "applicable": "Yes", "status": "met", "met": "Yes", "evidence": "https://partner.example/tier",
        "evidence_date": "2026-01-05", "expires_on": "", "note": "since 2024", "answered_by": "alice",
        "reviewed_by": "", "review_decision": "", "reviewed_on": "", "review_reason": "",
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
        self.links: list[str | None] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self._in_style = tag == "style"
        if tag == "tr" and "data-item" in attrs:
            self.rows[attrs["data-item"]] = attrs.get("class", "")
        # Assets the page would load; a link (<a href>) is for the reader to follow.
        for name in ("src", "href"):
            if attrs.get(name) and not (tag == "a" and name == "href"):
                self.external.append(attrs[name])
        if tag == "a":
            self.links.append(attrs.get("href"))

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
    html = tmp_path / export_filename("Acme", 1, "html")
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


class Summary(HTMLParser):
    """The readiness summary of the HTML export: where it is, its texts, its bars."""

    def __init__(self):
        super().__init__()
        self.in_header = self.in_summary = False
        self.before_first_part = True
        self.summary_in_header = False
        self.texts: dict[str, list[str]] = {}  # class of the enclosing block -> its texts
        self.bars: dict[str, dict[str, float]] = {}  # part id -> segment -> width
        self._block = self._part = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "header":
            self.in_header = True
        if tag == "section" and "part" in classes:
            self.before_first_part = False
        if tag == "section" and "readiness" in classes:
            self.in_summary, self.summary_in_header = True, self.in_header and self.before_first_part
        if not self.in_summary:
            return
        if tag == "p" and "verdict" in classes or tag == "div" and {"gaps", "lapsing"} & set(classes):
            self._block = classes[-1] if tag == "div" else "verdict"
        if tag == "tr" and "data-part" in attrs:
            self._part = attrs["data-part"]
            self.bars[self._part] = {}
        if tag == "rect" and self._part:
            self.bars[self._part][classes[0].removeprefix("seg-")] = float(attrs["width"])

    def handle_endtag(self, tag):
        if tag == "header":
            self.in_header = False
        if tag == "section":
            self.in_summary = False
        if tag in ("p", "div"):  # the summary's blocks hold neither
            self._block = None

    def handle_data(self, data):
        if self.in_summary and self._block and data.strip():
            self.texts.setdefault(self._block, []).append(data.strip())


def lapsing_document(language: str = "en", audit: date | None = date(2027, 3, 1)) -> dict:
    """The fixture's answers, with T1.25's PCI evidence met today but lapsing on
    2027-01-15, before a 2027-03-01 audit."""
    doc = answers() | {"T1.25": Answer(status="met", answered_by="dave", evidence=(
        Evidence("PCI DSS report", date(2026, 1, 16), date(2027, 1, 15)),))}
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id, categories=("stores",),
                             language=language, target_audit_date=audit, answers=doc)
    return {**self_assessment(CHECKLIST, state, TODAY, (CASE_STUDY,), SolutionDocuments()),
            "case_study_report": "Case-study findings."}


def test_html_first_page_is_the_readiness_summary_with_bars_verdict_gaps_and_lapsing_evidence():
    doc = lapsing_document()
    page = Summary()
    page.feed(render_document(doc, "html"))
    assert page.summary_in_header  # on the cover, before the first part's page break
    (verdict,) = page.texts["verdict"][:1]
    count = doc["readiness"]["gap_count"]
    assert verdict == f"Not ready for the audit on 2027-03-01: {count} blocking gap(s)." and count > 50
    # One bar per part, a segment per status, together as wide as the part's applicable items.
    assert list(page.bars) == ["prerequisites", "documents", "technical"]
    prerequisites = page.bars["prerequisites"]
    assert prerequisites == {"met": 2, "not_applicable": 1, "not_met": 1, "expired": 1, "skipped": 1,
                             "not_answered": 8}
    for part in doc["parts"]:
        assert sum(page.bars[part["id"]].values()) == part["applicable"]
    assert page.bars["technical"] == {"met": 2, "not_answered": 44}  # T1.24, and T1.25 until January
    gaps = page.texts["gaps"]
    assert gaps[0] == "Blocking gaps on the audit day"
    assert "P1.4 Customer Adoption: not met" in gaps and "Skipped (1): P1.3" in gaps
    assert any(line.startswith("Not answered (5") and "T2.13" in line for line in gaps)
    assert "Case studies: 3 finding(s), explained under Case studies." in gaps
    assert page.texts["lapsing"] == ["Evidence that expires before the audit",
                                     f"T1.25 {CHECKLIST.item('T1.25').title('en')}: last valid day 2027-01-15"]


def test_html_summary_in_chinese_and_without_a_target_audit_date():
    page = Summary()
    page.feed(render_document(lapsing_document("zh", audit=None), "html"))
    assert page.texts["verdict"][0].startswith("2026-11-28 审核时尚不具备条件：有 ")
    assert page.texts["verdict"][1] == "没有尚未到来的目标审核日期：按今天（2026-11-28）判断。"
    assert "P1.4 客户采用：不满足" in page.texts["gaps"]
    # Judged today, the PCI evidence still counts: nothing lapses before the audit.
    assert page.texts["lapsing"] == ["在审核前到期的证明材料", "—"]
    assert not any(": " in line for block in page.texts.values() for line in block)


def test_p1_1_points_to_the_program_details_it_names():
    for language in ("en", "zh"):
        html = render_document(document("saas", language), "html")
        page = PageStructure()
        page.feed(html)
        assert page.links == ["https://partnercentral.awspartner.com/"]
        assert "Click here" not in html and "单击此处" not in html
    row = next(r for p in document("saas")["parts"] for r in p["items"] if r["id"] == "P1.1")
    assert "Program details: the APN Partner Network portal, https://partnercentral.awspartner.com/," in row["text"]


def test_chromium_prints_the_readiness_summary_on_the_first_page(chromium, tmp_path):
    html = render_document(lapsing_document(), "html")
    cover = tmp_path / "cover.html"
    # The page up to the first part's page break, printed alone, fills exactly one page.
    cover.write_text(html[:html.index("</header>")] + "</header></body></html>", encoding="utf-8")
    pdf = tmp_path / "cover.pdf"
    run = print_to_pdf(chromium, cover, pdf, tmp_path)
    assert run.returncode == 0 and pdf.exists(), run.stderr[-2000:]
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes())) == 1


# --- file names ---------------------------------------------------------------------


@pytest.mark.parametrize(("partner", "expected"), [
    ("Acme Retail", "self-assessment-Acme-Retail-7.xlsx"),
    ("../../etc/x", "self-assessment-etc-x-7.xlsx"),
    ("a/b\\c:d*e?f\"g<h>i|j", "self-assessment-a-b-c-d-e-f-g-h-i-j-7.xlsx"),
    ("evil\x00\n\x1b[31mname", "self-assessment-evil-31mname-7.xlsx"),
    ("零售 公司", "self-assessment-零售-公司-7.xlsx"),
    ("..", "self-assessment-partner-7.xlsx"),
    ("x" * 500, "self-assessment-" + "x" * 80 + "-7.xlsx"),
])
def test_export_file_names_are_one_plain_name(partner, expected):
    name = export_filename(partner, 7, "xlsx")
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
    assert run.returncode == 0 and run.stdout == "self-assessment-etc-x-1.xlsx\n", run.stderr
    assert [p.name for p in folder.iterdir()] == ["self-assessment-etc-x-1.xlsx"]

    run = bot(url, "export", "--partner", "../../etc/x", "--format", "pdf")
    assert run.returncode == 2
    assert run.stderr == ("competency-bot: unknown export format 'pdf': use one of md, html, csv, xlsx, json, "
                          "wa-answers\n")


def test_slack_export_xlsx_uploads_a_workbook(started, server, slack_api):
    status, _ = send_form(server, slash_command("export xlsx"))
    assert status == 200
    completed = slack_api.wait_for("files.completeUploadExternal")[0]
    assert completed["channel_id"] == "CTEAM"
    assert slack_api.sent("files.getUploadURLExternal")[0]["filename"] == f"self-assessment-Acme-Retail-{started}.xlsx"
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
    assert [u["filename"] for u in slack_api.sent("files.getUploadURLExternal")] == [
        f"self-assessment-Acme-Retail-{started}.md"]


# --- hostile text, whenever it was stored -------------------------------------------

# Text stored before input was cleaned, or typed to do harm: controls and terminal escape
# sequences, formulas, HTML and links a Markdown viewer would make live.
FORMULAS = ("=HYPERLINK(\"https://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1")
MARKUP = ('<script>alert("x")</script>', "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
          "<javascript:alert(1)>", "![x](javascript:alert(1))", "[x]: javascript:alert(1)\n\n[x]")
CONTROLS = "\x00\x01\x07\x08\x0b\x0c\x1b[31m\x1b]0;title\x07\x7f\x85\x9b"


def hostile_document(partner: str, texts: tuple[str, ...]) -> dict:
    """Every user text of a document (partner, evidence, notes, who answered, a case
    study) holding ``texts``."""
    joined = " ".join(texts)
    items = [item.id for item in CHECKLIST.applicable_items("saas") if not item.derived_from]
    answers = {item_id: Answer(status="met", answered_by=text, note=text, evidence=(Evidence(text),))
               for item_id, text in zip(items, texts, strict=False)}
    state = ApplicationState(partner=partner, delivery_type="saas", checklist_id=CHECKLIST.id,
                             categories=("stores",), language="en", answers=answers)
    case_study = CaseStudy(customer_name=texts[0], customer_website=texts[-1], challenge=joined,
                           deployment=texts[0], third_party=texts[-1], outcomes=joined, category="stores")
    doc = self_assessment(CHECKLIST, state, TODAY, (case_study,), SolutionDocuments(overall_diagram=texts[0]))
    return {**doc, "case_study_report": joined}


def all_cells(xlsx: bytes):
    book = load_workbook(io.BytesIO(xlsx))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def test_control_characters_stored_earlier_never_break_an_export_or_reach_a_terminal():
    texts = (f"Acme{CONTROLS}note", f"line one\nline\ttwo{CONTROLS}")
    allowed = {"\n", "\t", "\r"}  # \r only in the csv's line ends, checked below
    for fmt in ("md", "html", "csv", "json"):
        out = render_document(hostile_document(f"Acme{CONTROLS}", texts), fmt)
        assert not {c for c in out if unicodedata.category(c) == "Cc"} - allowed, fmt
        assert "\r" not in out.replace("\r\n", ""), fmt
    cells = all_cells(render_document(hostile_document(f"Acme{CONTROLS}", texts), "xlsx"))  # no IllegalCharacterError
    values = [str(cell.value) for cell in cells if cell.value is not None]
    assert "Acme[31m]0;titlenote" in values and "Acme[31m]0;title" in values  # a note, the partner
    assert not {c for value in values for c in value if unicodedata.category(c) == "Cc"} - {"\n", "\t"}


def test_no_user_text_becomes_a_formula_in_csv_or_xlsx():
    doc = hostile_document(FORMULAS[0], FORMULAS)
    rows = list(csv.reader(io.StringIO(render_document(doc, "csv").removeprefix("\ufeff"))))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    by_item = {row[1]: row for row in rows}
    assert by_item["P1.2"][13] == "'+1+1" and by_item["P1.1"][12] == "'" + FORMULAS[0]  # answered by, note

    cells = [cell for cell in all_cells(render_document(hostile_document(FORMULAS[0], FORMULAS), "xlsx"))
             if cell.value is not None]
    assert [cell.data_type for cell in cells if cell.data_type == "f"] == []
    assert not [cell.value for cell in cells if str(cell.value).startswith(("=", "+", "-", "@", "\t"))]
    assert "'" + FORMULAS[0] in {cell.value for cell in cells}  # the partner, on the cover


def rendered_markdown(markdown: str) -> str:
    """The export as a permissive Markdown viewer shows it: raw HTML allowed, bare URLs
    linked, and no link refused for its scheme — only the export can keep links safe."""
    from markdown_it import MarkdownIt

    viewer = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["table", "linkify"])
    viewer.validateLink = lambda url: True
    return viewer.render(markdown)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.attributes, self.text = set(), [], set(), ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.links += [value for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data):
        self.text += data


def test_markdown_shows_user_html_as_text_and_links_only_http_https_and_mailto():
    links = ("https://shop.example/story", "http://wiki.example/a_b*c", "mailto:team@partner.example")
    doc = hostile_document(MARKUP[0], (*MARKUP, *links, "javascript:alert(1)", "data:text/html,<b>x</b>"))
    markdown = render_document(doc, "md")
    page = Tags()
    page.feed(rendered_markdown(markdown))
    assert page.tags <= {"h1", "h2", "h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "br", "a"}
    assert page.attributes <= {"href", "style"}
    assert {urlsplit(link).scheme for link in page.links} == {"http", "https", "mailto"}
    assert set(links) <= set(page.links)
    for text in MARKUP:  # shown as the person typed it
        assert text.split("\n")[0] in page.text
    assert "| P1.1 |" in markdown and all(line.count(" | ") >= 10 for line in markdown.splitlines()
                                          if line.startswith("| P1."))


def test_markdown_words_every_status_and_the_delivery_type():
    markdown = render_document(document("customer_deployed"), "md")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in markdown.splitlines() if line.startswith("| P")}
    assert "| not met |" in rows["P1.4"] and "| not applicable |" in rows["P4.3"]
    assert "| skipped |" in rows["P1.3"] and "| met |" in rows["P1.1"]
    assert "customer-deployed" in markdown and "customer\\_deployed" not in markdown


def test_cli_export_names_are_one_per_application_and_an_existing_file_is_kept_unless_forced(tmp_path):
    url = f"sqlite:///{tmp_path / 'names.db'}"
    partners = ("Acme Retail", "Acme/Retail", "Acme.Retail")
    for partner in partners:
        assert bot(url, "chat", "--partner", partner, "--delivery", "saas", "--categories", "stores",
                   "--lang", "en").returncode == 0
    folder = tmp_path / "out"
    folder.mkdir()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    def export(partner: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "export", "--partner", partner, "--format", "xlsx",
                               *extra], capture_output=True, text=True, cwd=folder, env=env, timeout=120)

    names = [export(partner).stdout.strip() for partner in partners]
    assert names == ["self-assessment-Acme-Retail-1.xlsx", "self-assessment-Acme-Retail-2.xlsx",
                     "self-assessment-Acme-Retail-3.xlsx"]
    assert sorted(p.name for p in folder.iterdir()) == names

    kept = folder / names[0]
    kept.write_bytes(b"somebody's file")
    run = export("Acme Retail")
    assert run.returncode == 2 and run.stderr == (
        f"competency-bot: {names[0]} exists and is kept; --force overwrites it\n")
    assert kept.read_bytes() == b"somebody's file"
    given = tmp_path / "given.md"
    given.write_text("keep me")
    run = export("Acme Retail", "--format", "md", "--output", str(given))
    assert run.returncode == 2 and given.read_text() == "keep me"

    assert export("Acme Retail", "--force").returncode == 0
    assert {row[0]: row[1] for row in load_workbook(kept).worksheets[0].iter_rows(values_only=True)}["Partner"] \
        == "Acme Retail"
    assert export("Acme Retail", "--format", "md", "--output", str(given), "--force").returncode == 0
    assert "Acme Retail" in given.read_text()


# --- sign-off (issue 18) ----------------------------------------------------------------


def test_every_format_holds_each_items_reviewer_decision_date_and_reason():
    from datetime import datetime, timezone

    from flows.sign_off import Review

    decided = datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc)  # 28 November in Shanghai
    given = answers()
    given["P1.2"] = replace(given["P1.2"], review=Review("approved", "bob", decided, "", (1,)))
    given["T1.25"] = replace(given["T1.25"], review=Review("changes_requested", "carol", decided,
                                                           '=HYPERLINK("x") *old* <b>', (2,)))
    state = ApplicationState(partner="Acme", delivery_type="saas", checklist_id=CHECKLIST.id, language="en",
                             timezone="Asia/Shanghai", answers=given, reviewers=("bob", "carol"))
    doc = {**self_assessment(CHECKLIST, state, TODAY), "case_study_report": "Case-study findings."}
    rows = {row["id"]: row for part in doc["parts"] for row in part["items"]}
    assert rows["P1.2"]["sign_off"] == {"reviewer": "bob", "decision": "approved", "approved": True,
                                        "date": "2026-11-28", "reason": ""}
    assert rows["P1.1"]["sign_off"] is None and json.loads(render_document(doc, "json"))["parts"][0]["items"][1][
        "sign_off"]["reviewer"] == "bob"
    table = {row[1]: dict(zip(EN_HEADER, row, strict=True))
             for row in csv.reader(io.StringIO(render_document(doc, "csv")[1:]))}
    assert [table["P1.2"][c] for c in EN_HEADER[-4:]] == ["bob", "approved", "2026-11-28", ""]
    assert [table["T1.25"][c] for c in EN_HEADER[-4:]] == [
        "carol", "changes requested", "2026-11-28", '\'=HYPERLINK("x") *old* <b>']  # no formula
    assert "| approved by bob on 2026-11-28 |" in render_document(doc, "md")
    assert "changes requested by carol on 2026-11-28: =HYPERLINK(&#34;x&#34;) *old* &lt;b&gt;" in render_document(
        doc, "html")
    book = load_workbook(io.BytesIO(render_document(doc, "xlsx")))
    sheet = book.worksheets[3]  # technical validation
    found = {r[0].value: [c.value for c in r[-4:]] for r in sheet.iter_rows(min_row=2)}
    assert found["T1.25"][:3] == ["carol", "changes requested", "2026-11-28"]
