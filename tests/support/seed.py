"""Realistic data in bulk: applications with answers, evidence, case studies and a week of
history, written straight into the tables. The digest tests use it and so does
``bench/digest_bench.py``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, text

from flows.application import MET, NOT_APPLICABLE, NOT_MET, SKIPPED
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from storage import models
from storage.db import Database

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)
TEAM = "T0TEAM"


def seed(db: Database, count: int, now: datetime = NOW, channels: int = 10, rng_seed: int = 1) -> None:
    """``count`` applications spread over ``channels`` PDM channels (CPDM00…), each somewhere
    between just started and finished: met / not met / n.a. / skipped answers, evidence with
    dates inside, near and past its window, 0–5 case studies, a week of history."""
    rng = random.Random(rng_seed)
    checklist = get_checklist(DEFAULT_CHECKLIST)
    today = now.date()
    categories = [c.id for c in checklist.categories]
    with db.session() as session:
        start = session.execute(text("SELECT count(*) FROM applications")).scalar_one()
        application_rows = []
        for n in range(start, start + count):
            application_rows.append({
                "checklist_id": checklist.id, "team_id": TEAM, "channel_id": f"CTEAM{n:05d}",
                "partner_name": f"Partner {n:05d}", "partner_key": f"partner {n:05d}",
                "delivery_type": "saas" if rng.random() < 0.7 else "customer_deployed",
                "categories": rng.sample(categories, rng.randint(1, 3)), "language": rng.choice(["zh", "en"]),
                "target_audit_date": today + timedelta(days=rng.randint(10, 200)) if rng.random() < 0.7 else None,
                "timezone": rng.choice(["Asia/Shanghai", "UTC"]), "finished": False, "created_by": "seed",
                "created_at": now - timedelta(days=60), "updated_at": now,
                "pdm_channel_id": f"CPDM{n % channels:02d}",
            })
        ids = session.scalars(
            insert(models.Application).returning(models.Application.id, sort_by_parameter_order=True),
            application_rows,
        ).all()
        answer_rows, answer_items = [], []
        history_rows, case_study_rows = [], []
        for application_id, row in zip(ids, application_rows, strict=True):
            progress = rng.random()
            for item in checklist.applicable_items(row["delivery_type"]):
                if rng.random() > progress:
                    continue
                roll = rng.random()
                status = (NOT_APPLICABLE if item.na_allowed and roll < 0.3 else
                          MET if roll < 0.8 else NOT_MET if roll < 0.9 else SKIPPED)
                answer_rows.append({"application_id": application_id, "item_id": item.id, "status": status,
                                    "note": "", "answered_by": "UALICE", "answered_at": now - timedelta(days=20),
                                    "assignee": ""})
                answer_items.append((item, status))
            for _ in range(rng.randint(0, 6)):
                item = rng.choice(checklist.applicable_items(row["delivery_type"]))
                history_rows.append({"application_id": application_id, "item_id": item.id, "field": "status",
                                     "old_value": None, "new_value": MET, "actor": "UALICE",
                                     "at": now - timedelta(days=rng.uniform(0, 10))})
            for number in range(rng.randint(0, 5)):
                public = rng.random() < 0.5
                case_study_rows.append({
                    "application_id": application_id, "customer_name": f"Customer {number}",
                    "customer_website": "https://customer.example.com", "challenge": "Stock-outs",
                    "deployment": "SaaS in us-east-1", "third_party": "none",
                    "production_date": today - timedelta(days=rng.randint(30, 600)), "in_production": True,
                    "outcomes": "Fewer stock-outs", "category": rng.choice(categories), "public": public,
                    "public_url": "https://example.com/case" if public else "", "diagram": "https://example.com/d",
                    "diagram_file_id": "", "created_by": "seed", "created_at": now, "updated_at": now,
                })
        answer_ids = session.scalars(
            insert(models.Answer).returning(models.Answer.id, sort_by_parameter_order=True), answer_rows
        ).all()
        evidence_rows = []
        for answer_id, answer, (item, status) in zip(answer_ids, answer_rows, answer_items, strict=True):
            if status != MET or not item.needs_evidence:
                continue
            for _ in range(1 if rng.random() < 0.8 else 2):
                dated = item.max_age is not None
                # Dates spread from fresh to a little past the window: some expire soon, some have.
                evidence_date = today - timedelta(days=rng.randint(0, 420)) if dated else None
                if dated and item.short_window:
                    evidence_date = today - timedelta(days=rng.randint(0, 9))
                evidence_rows.append({
                    "answer_id": answer_id, "text": f"https://wiki.example.com/{item.id}",
                    "evidence_date": evidence_date, "expires_on": item.expiry(evidence_date) if dated else None,
                    "added_by": "UALICE", "added_at": now - timedelta(days=20),
                })
                if rng.random() < 0.2:  # some of it added this week
                    history_rows.append({"application_id": answer["application_id"], "item_id": item.id,
                                         "field": "evidence", "old_value": None, "new_value": evidence_rows[-1]["text"],
                                         "actor": "UALICE", "at": now - timedelta(days=rng.uniform(0, 10))})
        if evidence_rows:
            session.execute(insert(models.Evidence), evidence_rows)
        if case_study_rows:
            session.execute(insert(models.CaseStudy), case_study_rows)
        if history_rows:
            session.execute(insert(models.HistoryEntry), history_rows)
