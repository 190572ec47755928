"""The digest's texts: each recurring line is rendered once per digest
(:class:`bot.digest.RepeatedLines`) and reused by every application that shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy import update

from bot.config import DigestSettings
from bot.digest import RepeatedLines, SharedLines, build_digests, digest_text, pdm_channels
from bot.render import render, translations
from storage import models
from tests.support.seed import seed

MONDAY = datetime(2026, 11, 30, 9, 5, tzinfo=timezone.utc)
SETTINGS = DigestSettings(pdm_channel="")


def test_a_line_rendered_once_reads_as_if_rendered_for_each_application(db):
    """A reused line whose key missed a value its macro reads would show another
    application's line: every application's text equals its text with each of its lines
    rendered for it alone, in both languages and both styles, the lines shared by the
    channels of one run."""
    seed(db, 150, MONDAY, channels=2)
    with db.session() as session:  # reviewers and decisions: the sign-off lines too
        session.execute(update(models.Application).where(models.Application.id % 3 == 0)
                        .values(reviewers=["UBOB"], require_sign_off=models.Application.id % 2 == 0))
        session.execute(update(models.Answer).where(models.Answer.id % 4 == 0).values(review_decision="approved"))
    shared = SharedLines()
    for digest in build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY):
        for language in ("en", "zh"):
            translated = replace(digest, channel=replace(digest.channel, language=language))
            for style in ("text", "slack"):
                _, texts = digest_text(translated, style, shared)
                alone = [RepeatedLines(language, style).application(a) for a in translated.applications]
                assert texts == alone
                assert len(set(texts)) == len(texts) == 75  # every application its own text


def test_each_blocking_gap_is_a_line_of_its_own(db):
    """A gap met today whose evidence lapses before the audit ends with its drill's state;
    the next gap still starts a line of its own (bot.slack.blocks.fold splits between
    lines), in both languages: as many lines under the heading as gaps, lists and findings."""
    seed(db, 150, MONDAY, channels=1)
    digest, = build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY)
    drilled = [a for a in digest.applications
               if any(gap.lapses_on and gap.item.id in a.drills for gap in a.readiness.failing[:-1])]
    assert drilled  # the seed has lapsing drill items followed by other gaps
    for language in ("en", "zh"):
        translated = replace(digest, channel=replace(digest.channel, language=language))
        _, texts = digest_text(translated)
        heading = translations(language).gettext("Blocking gaps:")
        for a, text in zip(translated.applications, texts, strict=True):
            r = a.readiness
            gaps = [part.splitlines()[1:] for part in text.split("\n\n") if part.startswith(heading)]
            expected = len(r.failing) + bool(r.unanswered) + bool(r.skipped) + len(r.case_study_gaps)
            assert [len(lines) for lines in gaps] == ([expected] if expected else [])


def test_a_list_of_ids_put_into_its_line_reads_as_if_rendered_for_it():
    """The lists of items not answered and skipped are rendered once per length, the ids
    put in afterwards: each reads as rendered for its own ids, in both languages and both
    styles — a release with ids that escaping or trimming would change rendered for them."""
    lists = [("P1.1",), ("P1.1", "P1.2"), ("A1", "B2", "C3", "D4", "E5"), ("P1.1", "R&D"), ("<b>", "x"),
             ("it's",), (" P1.1", "P1.2"), ("P1.1", "P1.2 ")]
    for language in ("en", "zh"):
        for style in ("text", "slack"):
            lines = RepeatedLines(language, style)
            for macro in ("not_answered", "skipped"):
                for ids in lists * 2:  # the second time from the line's form kept
                    release = SimpleNamespace(key=("test", repr(ids)), items=[SimpleNamespace(id=i) for i in ids])
                    assert lines._id_list(macro, ids, release) == render("digest.j2", macro, language, style, ids=ids)
