"""Block Kit for the walk: item messages and modals, within Slack's limits.

Texts come from templates; this module only arranges them into blocks.
"""

from __future__ import annotations

import json
from functools import lru_cache, partial

from bot.render import render, slack_escape
from flows.application import MET, Answer, ApplicationState
from flows.checklist import Checklist, Item, get_checklist
from flows.releases import UpgradePlan
from flows.sign_off import reviewable

SECTION_LIMIT = 3000
BUTTON_LIMIT = 75
CHECKBOX_OPTIONS = 10  # Slack's most options in a checkboxes element
MAX_VIEW_BLOCKS = 100
MESSAGE_BLOCKS = 50
MODAL_TITLE = 24
REVIEW_LIST_ITEMS = 20  # two blocks an item, within a message's 50
_BREAKS = ("\n\n", "\n", "。", "；", ". ", "; ", "，", ", ", " ")


def fold(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split text into chunks of at most ``limit`` characters at the nicest boundary:
    paragraph, line, sentence, clause, word; never inside a word."""
    chunks = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for mark in _BREAKS:
            position = window.rfind(mark)
            if position > limit // 3:
                cut = position + len(mark)
                break
        if cut <= 0:
            cut = limit  # one unbroken run longer than a block: nothing nicer exists
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _say(macro: str, language: str, **params) -> str:
    return render("slack/walk.j2", macro, language, style="slack", **params)


def plain(text: str, limit: int = BUTTON_LIMIT) -> dict:
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def item_value(application_id: int, item_id: str) -> str:
    return f"{application_id}|{item_id}"


def parse_item_value(value: str) -> tuple[int, str]:
    application_id, _, item_id = value.partition("|")
    return int(application_id), item_id


@lru_cache(maxsize=1024)
def _item_text_blocks(checklist_id: str, release: str, delivery_type: str, language: str, item_id: str) -> str:
    """The parts of an item's message that depend only on the checklist release, rendered
    once per process (as JSON, so every caller gets its own copy to extend)."""
    checklist = get_checklist(checklist_id, release)
    item = checklist.item(item_id)
    items = checklist.applicable_items(delivery_type)
    blocks = [section(_say("item_heading", language, item=item, position=items.index(item) + 1, total=len(items)))]
    body = render("slack/walk.j2", "item_context", language, style="slack", item=item)
    blocks += [section(chunk) for chunk in fold(slack_escape(item.text(language)))]
    blocks += [{"type": "context", "elements": [{"type": "mrkdwn", "text": chunk}]} for chunk in fold(body)]
    return json.dumps(blocks)


@lru_cache(maxsize=64)
def _button_labels(language: str) -> dict[str, dict]:
    return {name: plain(_say("button", language, name=name))
            for name in ("met", "not_met", "not_applicable", "skip", "back", "evidence", "approve", "request_changes")}


def item_blocks(checklist: Checklist, state: ApplicationState, item: Item, live: bool = True) -> list[dict]:
    """An item's message. Only the live one (the walk's current item) has answer buttons: an
    older message keeps its answer and the evidence button."""
    language = state.language
    blocks = json.loads(_item_text_blocks(checklist.id, checklist.release, state.delivery_type, language, item.id))
    answer = state.answer(item.id)
    if answer.status:
        blocks.append(answered_context(answer, language))
    elif answer.previous_status:
        reopened = render("releases.j2", "was_answered", language, style="slack", status=answer.previous_status)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": reopened}]})
    value = item_value(state.id, item.id)
    if item.derived_from:
        # Answered from the case studies: no buttons that would type an answer in.
        note = render("walk.j2", "derived_note", language, style="slack")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        names = ["back"]
    elif live:
        names = ["met", "not_met"] + (["not_applicable"] if item.na_allowed else []) + ["skip", "back", "evidence"]
    else:
        names = ["evidence"]
    labels = _button_labels(language)
    buttons = []
    for name in names:
        button = {"type": "button", "action_id": f"walk_{name}", "value": value, "text": dict(labels[name])}
        if name == "met":
            button["style"] = "primary"
        buttons.append(button)
    blocks.append({"type": "actions", "block_id": f"item:{item.id}", "elements": buttons})
    if state.reviewers and reviewable(item) and answer.status == MET and answer.evidence:
        blocks += sign_off_blocks(state, item, answer)
    return blocks[:MESSAGE_BLOCKS]


def sign_off_blocks(state: ApplicationState, item: Item, answer: Answer) -> list[dict]:
    """Where the item stands with its reviewers, and their buttons: Approve (unless it is
    approved) and Request changes."""
    language = state.language
    value = item_value(state.id, item.id)
    labels = _button_labels(language)
    names = ["request_changes"] if answer.review is not None and answer.review.approved else [
        "approve", "request_changes"]
    buttons = [{"type": "button", "action_id": f"signoff_{name}", "value": value, "text": dict(labels[name]),
                **({"style": "primary"} if name == "approve" else {})} for name in names]
    state_text = render("common.j2", "sign_off_state", language, style="slack", review=answer.review)
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": state_text}]},
            {"type": "actions", "block_id": f"signoff:{item.id}", "elements": buttons}]


def review_blocks(state: ApplicationState, waiting: list[Item]) -> list[dict]:
    """``/competency review``: each item waiting for sign-off, oldest first, with its
    evidence and the sign-off buttons."""
    language = state.language
    blocks = [section(chunk) for chunk in fold(_say("review_heading", language, count=len(waiting),
                                                    shown=min(len(waiting), REVIEW_LIST_ITEMS)))]
    for item in waiting[:REVIEW_LIST_ITEMS]:
        answer = state.answer(item.id)
        blocks.append(section(fold(_say("review_entry", language, item=item, answer=answer))[0]))
        blocks.append(sign_off_blocks(state, item, answer)[1])
    return blocks[:MESSAGE_BLOCKS]


def changes_modal(item: Item, state: ApplicationState, metadata: dict) -> dict:
    """The reason for a request for changes."""
    say = partial(_form_label, state.language)
    return modal("signoff_changes_modal", metadata, say("changes_title"), say("submit"), say("cancel"), [
        section(_say("item_heading", state.language, item=item, position=1, total=1).split("(1/1)")[0].strip()),
        input_block("reason", say("reason"), {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                              "max_length": 3000}),
    ])


def answered_context(answer: Answer, language: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _say("answered", language, answer=answer)}]}


def input_block(block_id: str, label: str, element: dict, optional: bool = False) -> dict:
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element,
            "optional": optional}


def _form_label(language: str, name: str) -> str:
    return _say("modal", language, name=name)


def modal(callback_id: str, metadata: dict, title: str, submit: str, close: str, blocks: list[dict]) -> dict:
    """A form: its texts cut to Slack's 24 characters, ``metadata`` kept until submission."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(metadata),
        "title": plain(title, MODAL_TITLE),
        "submit": plain(submit, MODAL_TITLE),
        "close": plain(close, MODAL_TITLE),
        "blocks": blocks,
    }


def start_modal(checklists: list[Checklist], channel_id: str, language: str) -> dict:
    """The start form for the installed checklists (the first is the default): with more
    than one, a choice of checklist, and the categories of all of them (those of another
    checklist than the one chosen are dropped on submission)."""
    say = partial(_form_label, language)
    checklist = checklists[0]
    categories = list({c.id: {"text": plain(c.title(language)), "value": c.id}
                       for each in checklists for c in each.categories}.values())[:CHECKBOX_OPTIONS]
    deliveries = [{"text": plain(d.title(language)), "value": d.id} for d in checklist.delivery_types]
    languages = [{"text": plain("中文"), "value": "zh"}, {"text": plain("English"), "value": "en"}]
    text_input = {"type": "plain_text_input", "action_id": "value", "max_length": 200}
    choices = [{"text": plain(c.title(language)), "value": c.id} for c in checklists]
    choice = [input_block("checklist", say("checklist"), {"type": "static_select", "action_id": "value",
                                                         "options": choices, "initial_option": choices[0]})]
    return modal("start_modal", {"c": channel_id}, say("start_title"), say("submit"), say("cancel"), [
        *(choice if len(checklists) > 1 else []),
        input_block("partner", say("partner"), text_input),
        input_block("categories", say("categories"),
                    {"type": "checkboxes", "action_id": "value", "options": categories}),
        input_block("delivery", say("delivery"),
                    {"type": "radio_buttons", "action_id": "value", "options": deliveries}),
        input_block("language", say("language"), {"type": "static_select", "action_id": "value", "options": languages,
                                                  "initial_option": languages[0 if language == "zh" else 1]}),
        input_block("audit_date", say("audit_date"), {"type": "datepicker", "action_id": "value"}, optional=True),
    ])


def upgrade_modal(plan: UpgradePlan, metadata: dict, language: str) -> dict:
    """What moving to a newer release does, to confirm: what is kept, what reopens, what
    is archived."""
    text = render("releases.j2", "upgrade_plan", language, style="slack", plan=plan)
    blocks = [section(chunk) for chunk in fold(text)][:MAX_VIEW_BLOCKS]
    return modal("upgrade_modal", metadata, _form_label(language, "upgrade_title"), _form_label(language, "upgrade"),
                 _form_label(language, "cancel"), blocks)


def evidence_modal(item: Item, state: ApplicationState, metadata: dict) -> dict:
    language = state.language
    say = partial(_form_label, language)
    blocks = [
        section(_say("item_heading", language, item=item, position=1, total=1).split("(1/1)")[0].strip()),
        input_block("link", say("link"), {"type": "plain_text_input", "action_id": "value", "max_length": 3000}),
    ]
    if item.max_age:
        blocks.append(input_block("evidence_date", say("evidence_date"), {"type": "datepicker", "action_id": "value"}))
    blocks.append(input_block("note", say("note"), {"type": "plain_text_input", "action_id": "value",
                                               "multiline": True, "max_length": 3000}, optional=True))
    return modal("evidence_modal", metadata, say("evidence_title"), say("submit"), say("cancel"), blocks)


def view_metadata(view: dict) -> dict:
    """What a form carries between opening and submission (``private_metadata``, JSON)."""
    return json.loads(view.get("private_metadata") or "{}")
