"""Checklist releases and the Well-Architected custom lens at the command line: reading
and writing the files, wording the results (templates/releases.j2) in the operator's
language. The rules themselves are pure, in flows/releases.py and flows/lens.py."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import tomli_w

from bot.render import render
from flows.application import ApplicationState, effective_status
from flows.checklist import Checklist, ChecklistError, installed_releases, load_checklist
from flows.lens import IMPORTED_RELEASE, LensError, export_lens, import_lens, wa_answers
from flows.text import clean_all

TEMPLATE = "releases.j2"
# A checklist id is also its file's name: no path separators, nothing hidden.
CHECKLIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ReleaseRefused(Exception):
    """An operator's request that cannot be done; the message is already worded."""


def say(macro: str, language: str, **params) -> str:
    return render(TEMPLATE, macro, language, **params)


def checklist_problem(error: ChecklistError, language: str) -> str:
    return say("checklist_problem", language, error=error)


def lens_json(checklist: Checklist, language: str) -> dict:
    try:
        return export_lens(checklist, language, json.loads(say("lens_labels", language)))
    except LensError as error:
        raise ReleaseRefused(say("lens_invalid", language, source=checklist.id, problems=error.problems)) from None


def wa_answers_json(checklist: Checklist, state: ApplicationState, today: date) -> str:
    requests = wa_answers(checklist, state, lambda answer: effective_status(answer, today))
    return json.dumps(clean_all(requests), ensure_ascii=False, indent=2) + "\n"


def read_lens(path: Path, language: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReleaseRefused(say("lens_not_json", language, source=path, reason=error.strerror)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ReleaseRefused(say("lens_not_json", language, source=path, reason=error)) from None


def install_lens(lens_path: Path, checklist_id: str, folder: Path, language: str,
                 force: bool = False) -> tuple[Path, Checklist]:
    """Turn a custom lens into a checklist file in ``folder``, checked by the same loader
    every checklist goes through; an existing file is kept unless ``force``."""
    new_id = checklist_id or lens_path.stem
    if not CHECKLIST_ID.fullmatch(new_id):
        raise ReleaseRefused(say("bad_checklist_id", language, id=new_id))
    lens = read_lens(lens_path, language)
    try:
        content = import_lens(lens, new_id, json.loads(say("import_texts", language)))
    except LensError as error:
        raise ReleaseRefused(say("lens_invalid", language, source=lens_path, problems=error.problems)) from None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{new_id}.toml"
    if target.exists() and not force:
        raise ReleaseRefused(render("cli.j2", "file_exists", "en", path=target))
    if (new_id, IMPORTED_RELEASE) in installed_releases() and not target.exists():
        # Another folder has it (the product's own, say): ids must stay one per release.
        raise ChecklistError("duplicate_release", source=str(target), field="id", checklist=new_id,
                             release=IMPORTED_RELEASE)
    # Checked by the loader before it takes the place of anything (a replaced import stays
    # as it was if the new one cannot be used); the folder's loader reads only *.toml.
    written = target.with_suffix(".toml.new")
    with written.open("wb") as handle:
        tomli_w.dump(clean_all(content), handle)
    try:
        load_checklist(written)
    except ChecklistError:
        written.unlink()
        raise
    written.replace(target)
    return target, load_checklist(target)
