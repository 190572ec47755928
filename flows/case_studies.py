"""Case studies as plain values, and the seed's rules about them (P2.1, P2.2, D1, D2).

Pure: no SQL, no Slack, no I/O and no clock — ``today`` (and the target audit date)
are always passed in. The terminal and the Slack modal both turn what people typed
into a :class:`CaseStudy` with :func:`validate_case_study`; :func:`check` judges a set
of case studies against the checklist and :func:`derived_statuses` turns the verdict
into item statuses.

Decisions the seed leaves open, and what this module does:

* **Valid** (on a day) means: every required field present (:data:`REQUIRED_FIELDS`;
  ``in_production`` left unanswered counts as missing), in production (not pilot/POC),
  one of the checklist's categories, no malformed field, and the production date within
  the P2.1 item's ``max_age`` of that day — ``production_date + max_age >= day``, so a
  deployment exactly 18 months old still counts (``Item.expiry`` and ``is_expired``,
  the same arithmetic as every other evidence window).
* Derived statuses are **as of today**, like every other item's status; a target audit
  date only adds findings (``too_old_by_audit``, ``too_few_by_audit``) and the
  ``valid_on_audit`` count. An audit date on or before today adds nothing.
* P2.1 is ``expired`` rather than ``not_met`` when fewer than four case studies are
  valid today but at least four would be if age were ignored — that is, the partner
  had what it takes and only time ran out, just as met evidence past its window is
  expired in the walk. P2.2 likewise for its two public case studies.
* P2.2 counts only public case studies with a well-formed URL among the ones valid today.
* D1 is met when there is at least one valid case study, every valid case study has
  a diagram, and (SaaS) the whole-solution diagram exists. Diagrams do not age, but
  they are judged on the case studies that count.
* D2 (customer-deployed only) is met when the deployment guide exists.
* D3 (a completed checklist per case study) is not derived here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache, partial
from urllib.parse import urlsplit

from flows.application import EXPIRED, MAX_NAME, MAX_TEXT, MET, NOT_MET, ApplicationState, is_expired
from flows.checklist import Checklist, Item
from flows.evidence import DateProblem, parse_evidence_date

CASE_STUDIES_NEEDED = 4
PUBLIC_NEEDED = 2
WINDOW_ITEM = "P2.1"

SAAS = "saas"
CUSTOMER_DEPLOYED = "customer_deployed"

# Field problem codes (rendered by ``field_error`` in templates/case_studies.j2).
NOT_URL = "not_url"
FUTURE = "future"
UNREADABLE = "unreadable"
REQUIRED = "required"
UNKNOWN_CATEGORY = "unknown_category"
PUBLIC_NEEDS_URL = "public_needs_url"
TOO_LONG = "too_long"
NOT_YES_NO = "not_yes_no"

# Rule ids of findings (rendered by ``finding`` in templates/case_studies.j2).
TOO_FEW_CASE_STUDIES = "too_few_case_studies"
TOO_FEW_BY_AUDIT = "too_few_by_audit"
MISSING_FIELDS = "missing_fields"
INVALID_FIELD = "invalid_field"
TOO_OLD = "too_old"
TOO_OLD_BY_AUDIT = "too_old_by_audit"
NOT_IN_PRODUCTION = "not_in_production"
TOO_FEW_PUBLIC = "too_few_public"
PUBLIC_WITHOUT_URL = "public_without_url"
UNKNOWN_CATEGORY_RULE = "unknown_category"
MISSING_DIAGRAM = "missing_diagram"
MISSING_OVERALL_DIAGRAM = "missing_overall_diagram"
MISSING_DEPLOYMENT_GUIDE = "missing_deployment_guide"


@dataclass(frozen=True)
class CaseStudy:
    customer_name: str = ""
    customer_website: str = ""
    challenge: str = ""
    deployment: str = ""
    third_party: str = ""  # third-party applications or solutions used ("none" is valid; empty is missing)
    production_date: date | None = None
    in_production: bool | None = None  # asked explicitly: production, not pilot/POC
    outcomes: str = ""
    category: str = ""  # one of the checklist's six category ids
    public: bool = False
    public_url: str = ""
    diagram: str = ""  # link, or a Slack file permalink
    diagram_file_id: str = ""  # Slack file id when uploaded
    id: int | None = None

    @property
    def has_diagram(self) -> bool:
        return bool(self.diagram.strip() or self.diagram_file_id.strip())


@dataclass(frozen=True)
class SolutionDocuments:
    overall_diagram: str = ""  # the whole-solution diagram (needed for SaaS)
    overall_diagram_file_id: str = ""
    deployment_guide: str = ""  # needed for customer-deployed
    deployment_guide_file_id: str = ""

    @property
    def has_overall_diagram(self) -> bool:
        return bool(self.overall_diagram.strip() or self.overall_diagram_file_id.strip())

    @property
    def has_deployment_guide(self) -> bool:
        return bool(self.deployment_guide.strip() or self.deployment_guide_file_id.strip())


# Every field a form asks for, in the order it asks.
FIELDS = (
    "customer_name",
    "customer_website",
    "challenge",
    "deployment",
    "third_party",
    "production_date",
    "in_production",
    "outcomes",
    "category",
    "public",
    "public_url",
    "diagram",
    "diagram_file_id",
)
# What P2.1 asks of every case study (the diagram is D1's business; the public URL P2.2's).
REQUIRED_FIELDS = FIELDS[: FIELDS.index("category") + 1]
URL_FIELDS = ("customer_website", "public_url")
TEXT_FIELDS = (
    "customer_name",
    "customer_website",
    "challenge",
    "deployment",
    "third_party",
    "outcomes",
    "public_url",
    "diagram",
    "diagram_file_id",
)

_YES = {"yes", "y", "true", "1", "on", "production", "in production", "是"}
_NO = {"no", "n", "false", "0", "off", "pilot", "poc", "proof of concept", "否"}


@dataclass(frozen=True)
class Finding:
    rule: str
    case_study_index: int | None = None  # 0-based position in the list given to check(); None = overall
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CaseStudyResult:
    index: int
    complete: bool
    valid_today: bool
    valid_on_audit: bool
    valid_ignoring_age: bool
    expires_on: date | None  # last day it counts (production_date + max_age)
    ok: bool  # no finding about this case study


@dataclass(frozen=True)
class Counts:
    total: int = 0
    complete: int = 0
    valid_today: int = 0
    valid_on_audit: int = 0
    valid_ignoring_age: int = 0
    public_with_url: int = 0  # among the ones valid today
    public_ignoring_age: int = 0  # among the ones valid if age were ignored
    diagrams_for_valid: int = 0  # valid today and with a diagram
    has_overall_diagram: bool = False
    has_deployment_guide: bool = False
    needed: int = CASE_STUDIES_NEEDED
    public_needed: int = PUBLIC_NEEDED


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]
    results: tuple[CaseStudyResult, ...]
    counts: Counts
    delivery_type: str
    today: date
    target_audit_date: date | None
    window: dict[str, int]  # the P2.1 item's max_age, e.g. {"months": 18}

    @property
    def ok(self) -> tuple[bool, ...]:
        return tuple(r.ok for r in self.results)

    @property
    def passed(self) -> bool:
        return not self.findings

    def findings_for(self, index: int | None) -> list[Finding]:
        return [f for f in self.findings if f.case_study_index == index]

    @property
    def audit_checked(self) -> bool:
        return self.target_audit_date is not None and self.target_audit_date > self.today


# --- field checks -----------------------------------------------------------------

_SPACE = re.compile(r"\s")


@lru_cache(maxsize=4096)
def is_http_url(text: str) -> bool:
    """An http(s) URL with a host, and nothing that cannot be in one."""
    text = text.strip()
    if not text or _SPACE.search(text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def _category_id(text: str, checklist: Checklist) -> str | None:
    wanted = text.strip().casefold()
    for category in checklist.categories:
        names = (category.id, category.title.en, category.title.zh)
        if wanted in (name.casefold() for name in names):
            return category.id
    return None


def yes_no(text: str) -> bool | None | str:
    value = text.strip().casefold()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    return NOT_YES_NO


def _limit(name: str) -> int:
    return MAX_NAME if name == "customer_name" else MAX_TEXT


def _stored_problems(case_study: CaseStudy, today: date) -> dict[str, str]:
    """Malformed values in a case study already built (category is its own rule)."""
    problems: dict[str, str] = {}
    for name in TEXT_FIELDS:
        if len(getattr(case_study, name)) > _limit(name):
            problems[name] = TOO_LONG
    for name in URL_FIELDS:
        value = getattr(case_study, name)
        if name not in problems and value.strip() and not is_http_url(value):
            problems[name] = NOT_URL
    if case_study.production_date is not None and case_study.production_date > today:
        problems["production_date"] = FUTURE
    return problems


def missing_fields(case_study: CaseStudy) -> list[str]:
    missing = []
    for name in REQUIRED_FIELDS:
        value = getattr(case_study, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(name)
    return missing


def validate_case_study(
    fields: dict[str, str], checklist: Checklist, today: date, *, submit: bool = True
) -> tuple[CaseStudy | None, dict[str, str]]:
    """Read a form's fields into a :class:`CaseStudy`, or say what is wrong with them.

    Returns ``(case_study, {})`` or ``(None, {field: problem code})``. With
    ``submit=False`` (a draft) missing fields are not problems, malformed ones are.
    Unknown keys are ignored. ``public`` and ``in_production`` take yes/no words.
    """
    raw = {name: str(fields.get(name) or "").strip() for name in FIELDS}
    problems: dict[str, str] = {}

    for name in TEXT_FIELDS:
        if len(raw[name]) > _limit(name):
            problems[name] = TOO_LONG
    for name in URL_FIELDS:
        if name not in problems and raw[name] and not is_http_url(raw[name]):
            problems[name] = NOT_URL

    production_date: date | None = None
    if raw["production_date"]:
        if len(raw["production_date"]) > MAX_NAME:
            problems["production_date"] = UNREADABLE
        else:
            parsed = parse_evidence_date(raw["production_date"], today)
            if isinstance(parsed, DateProblem):
                problems["production_date"] = parsed.reason
            else:
                production_date = parsed

    category = ""
    if raw["category"]:
        found = _category_id(raw["category"], checklist)
        if found is None:
            problems["category"] = UNKNOWN_CATEGORY
        else:
            category = found

    flags: dict[str, bool | None] = {}
    for name in ("in_production", "public"):
        value = yes_no(raw[name])
        if value == NOT_YES_NO:
            problems[name] = NOT_YES_NO
            value = None
        flags[name] = value

    if submit:
        for name in REQUIRED_FIELDS:
            if not raw[name] and name not in problems:
                problems[name] = REQUIRED
        if flags["public"] and not raw["public_url"] and "public_url" not in problems:
            problems["public_url"] = PUBLIC_NEEDS_URL

    if problems:
        return None, problems
    return (
        CaseStudy(
            customer_name=raw["customer_name"],
            customer_website=raw["customer_website"],
            challenge=raw["challenge"],
            deployment=raw["deployment"],
            third_party=raw["third_party"],
            production_date=production_date,
            in_production=flags["in_production"],
            outcomes=raw["outcomes"],
            category=category,
            public=bool(flags["public"]),
            public_url=raw["public_url"],
            diagram=raw["diagram"],
            diagram_file_id=raw["diagram_file_id"],
        ),
        {},
    )


def case_study_fields(case_study: CaseStudy) -> dict[str, str]:
    """The form fields that :func:`validate_case_study` reads back into ``case_study``."""
    values = {name: getattr(case_study, name) for name in FIELDS}
    values["production_date"] = (
        case_study.production_date.isoformat() if case_study.production_date else ""
    )
    values["in_production"] = {True: "yes", False: "no", None: ""}[case_study.in_production]
    values["public"] = "yes" if case_study.public else "no"
    return values


# --- the rules ----------------------------------------------------------------------


def window_item(checklist: Checklist) -> Item:
    item = checklist.item(WINDOW_ITEM)
    if item is None or item.max_age is None:
        raise ValueError(f"checklist {checklist.id} has no {WINDOW_ITEM} item with a max_age")
    return item


def _eligible(case_study: CaseStudy, checklist: Checklist, missing: list[str], problems: dict[str, str]) -> bool:
    """Everything P2.1 asks except the age of the deployment (``missing`` and ``problems``
    are the case study's :func:`missing_fields` and stored problems)."""
    return (
        not missing
        and not problems
        and case_study.in_production is True
        and checklist.category(case_study.category) is not None
    )


def _counts_on(expires_on: date | None, day: date) -> bool:
    return expires_on is not None and not is_expired(expires_on, day)


def _add_finding(found: list[Finding], index: int, customer: str, rule: str, **params) -> None:
    found.append(Finding(rule, index, {"customer": customer, **params}))


def check(
    case_studies: list[CaseStudy] | tuple[CaseStudy, ...],
    documents: SolutionDocuments,
    delivery_type: str,
    checklist: Checklist,
    today: date,
    target_audit_date: date | None = None,
) -> Assessment:
    item = window_item(checklist)
    audit_day = target_audit_date if target_audit_date and target_audit_date > today else None
    findings: list[Finding] = []
    results: list[CaseStudyResult] = []
    public_with_url = public_ignoring_age = diagrams_for_valid = 0

    for index, cs in enumerate(case_studies):
        own: list[Finding] = []
        add = partial(_add_finding, own, index, cs.customer_name)

        missing = missing_fields(cs)
        if missing:
            add(MISSING_FIELDS, fields=missing)
        problems = _stored_problems(cs, today)
        for name, code in problems.items():
            add(INVALID_FIELD, field=name, code=code)
        if cs.in_production is False:
            add(NOT_IN_PRODUCTION)
        if cs.category and checklist.category(cs.category) is None:
            add(UNKNOWN_CATEGORY_RULE, category=cs.category)

        expires_on = item.expiry(cs.production_date) if cs.production_date else None
        if cs.production_date is not None and "production_date" not in problems:
            if is_expired(expires_on, today):
                add(
                    TOO_OLD,
                    production_date=cs.production_date,
                    expires_on=expires_on,
                    window=dict(item.max_age or {}),
                )
            elif audit_day is not None and is_expired(expires_on, audit_day):
                add(
                    TOO_OLD_BY_AUDIT,
                    production_date=cs.production_date,
                    expires_on=expires_on,
                    audit_date=audit_day,
                )
        if cs.public and not cs.public_url.strip():
            add(PUBLIC_WITHOUT_URL)
        if not cs.has_diagram:
            add(MISSING_DIAGRAM)

        eligible = _eligible(cs, checklist, missing, problems)
        valid_today = eligible and _counts_on(expires_on, today)
        valid_on_audit = valid_today and (audit_day is None or _counts_on(expires_on, audit_day))
        public_ok = cs.public and is_http_url(cs.public_url)
        public_with_url += valid_today and public_ok
        public_ignoring_age += eligible and public_ok
        diagrams_for_valid += valid_today and cs.has_diagram
        results.append(
            CaseStudyResult(
                index=index,
                complete=not missing,
                valid_today=valid_today,
                valid_on_audit=valid_on_audit,
                valid_ignoring_age=eligible,
                expires_on=expires_on,
                ok=not own,
            )
        )
        findings.extend(own)

    counts = Counts(
        total=len(results),
        complete=sum(r.complete for r in results),
        valid_today=sum(r.valid_today for r in results),
        valid_on_audit=sum(r.valid_on_audit for r in results),
        valid_ignoring_age=sum(r.valid_ignoring_age for r in results),
        public_with_url=public_with_url,
        public_ignoring_age=public_ignoring_age,
        diagrams_for_valid=diagrams_for_valid,
        has_overall_diagram=documents.has_overall_diagram,
        has_deployment_guide=documents.has_deployment_guide,
    )

    overall: list[Finding] = []
    if counts.valid_today < CASE_STUDIES_NEEDED:
        overall.append(
            Finding(
                TOO_FEW_CASE_STUDIES,
                None,
                {
                    "valid": counts.valid_today,
                    "complete": counts.complete,
                    "total": counts.total,
                    "needed": CASE_STUDIES_NEEDED,
                },
            )
        )
    elif audit_day is not None and counts.valid_on_audit < CASE_STUDIES_NEEDED:
        overall.append(
            Finding(
                TOO_FEW_BY_AUDIT,
                None,
                {"valid": counts.valid_on_audit, "needed": CASE_STUDIES_NEEDED, "audit_date": audit_day},
            )
        )
    if counts.public_with_url < PUBLIC_NEEDED:
        overall.append(
            Finding(TOO_FEW_PUBLIC, None, {"public": counts.public_with_url, "needed": PUBLIC_NEEDED})
        )
    if delivery_type == SAAS and not documents.has_overall_diagram:
        overall.append(Finding(MISSING_OVERALL_DIAGRAM, None, {}))
    if delivery_type == CUSTOMER_DEPLOYED and not documents.has_deployment_guide:
        overall.append(Finding(MISSING_DEPLOYMENT_GUIDE, None, {}))

    return Assessment(
        findings=tuple(overall + findings),
        results=tuple(results),
        counts=counts,
        delivery_type=delivery_type,
        today=today,
        target_audit_date=target_audit_date,
        window=dict(item.max_age or {}),
    )


def derived_statuses(assessment: Assessment, delivery_type: str) -> dict[str, str]:
    """Item id → ``met`` / ``not_met`` / ``expired`` for P2.1, P2.2, D1 and (customer-deployed) D2."""
    c = assessment.counts
    p21 = _counted_status(c.valid_today, c.valid_ignoring_age, CASE_STUDIES_NEEDED)
    p22 = _counted_status(c.public_with_url, c.public_ignoring_age, PUBLIC_NEEDED)
    d1 = (
        c.valid_today > 0
        and c.diagrams_for_valid == c.valid_today
        and (delivery_type != SAAS or c.has_overall_diagram)
    )
    statuses = {"P2.1": p21, "P2.2": p22, "D1": MET if d1 else NOT_MET}
    if delivery_type == CUSTOMER_DEPLOYED:
        statuses["D2"] = MET if c.has_deployment_guide else NOT_MET
    return statuses


def _counted_status(valid_today: int, valid_ignoring_age: int, needed: int) -> str:
    """Enough valid today: met; enough only if age were ignored: expired; else not met."""
    if valid_today >= needed:
        return MET
    return EXPIRED if valid_ignoring_age >= needed else NOT_MET


def with_derived_statuses(
    state: ApplicationState, statuses: dict[str, str], actor: str, now: datetime
) -> ApplicationState:
    """The state with each derived item's status set, answered by whoever changed the data."""
    for item_id, status in statuses.items():
        answer = state.answer(item_id)
        if answer.status != status:
            state = state.with_answer(item_id, replace(answer, status=status, answered_by=actor, answered_at=now))
    return state


# --- solution-wide documents ----------------------------------------------------------

OVERALL_DIAGRAM = "overall_diagram"
DEPLOYMENT_GUIDE = "deployment_guide"
# Which delivery type needs which document (D1's whole-solution diagram, D2's guide).
DOCUMENT_FOR = {OVERALL_DIAGRAM: SAAS, DEPLOYMENT_GUIDE: CUSTOMER_DEPLOYED}
NOT_NEEDED = "not_needed"


def document_problem(kind: str, link: str, file_id: str, delivery_type: str) -> str | None:
    """Why a solution document cannot be stored, or None: a link or a file is required,
    and only the document the delivery type needs is asked for."""
    if DOCUMENT_FOR[kind] != delivery_type:
        return NOT_NEEDED
    if not link.strip() and not file_id.strip():
        return REQUIRED
    if len(link) > MAX_TEXT:
        return TOO_LONG
    return None
