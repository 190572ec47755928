"""The digest's texts: each recurring line is rendered once per digest
(:class:`bot.digest.RepeatedLines`) and reused by every application that shows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import update

from bot.config import DigestSettings
from bot.digest import RepeatedLines, build_digests, digest_text, pdm_channels
from bot.render import render
from storage import models
from tests.support.seed import seed

MONDAY = datetime(2026, 11, 30, 9, 5, tzinfo=timezone.utc)
SETTINGS = DigestSettings(pdm_channel="")


def test_a_line_rendered_once_reads_as_if_rendered_for_each_application(db):
    """A reused line whose key missed a value its macro reads would show another
    application's line: every application's text equals its text with each of its lines
    rendered for it alone, in both languages and both styles."""
    seed(db, 150, MONDAY, channels=2)
    with db.session() as session:  # reviewers and decisions: the sign-off lines too
        session.execute(update(models.Application).where(models.Application.id % 3 == 0)
                        .values(reviewers=["UBOB"], require_sign_off=models.Application.id % 2 == 0))
        session.execute(update(models.Answer).where(models.Answer.id % 4 == 0).values(review_decision="approved"))
    for digest in build_digests(db, pdm_channels(db, SETTINGS), SETTINGS, MONDAY):
        for language in ("en", "zh"):
            translated = replace(digest, channel=replace(digest.channel, language=language))
            for style in ("text", "slack"):
                _, texts = digest_text(translated, style)
                alone = [render("digest.j2", "application", language, style, a=a,
                                lines=RepeatedLines(language, style).of(a))
                         for a in translated.applications]
                assert texts == alone
                assert len(set(texts)) == len(texts) == 75  # every application its own text
