"""The words people type during the walk, in English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass

# Each command word maps to the command it means; matching ignores case and
# surrounding spaces, and accepts full-width punctuation variants where common.
WORDS: dict[str, str] = {
    "yes": "met", "y": "met", "met": "met", "是": "met", "满足": "met",
    "no": "not_met", "n": "not_met", "not met": "not_met", "否": "not_met", "不满足": "not_met",
    "na": "not_applicable", "n/a": "not_applicable", "not applicable": "not_applicable",
    "不适用": "not_applicable",
    "skip": "skip", "跳过": "skip",
    "back": "back", "返回": "back",
    "status": "status", "进度": "status",
    "help": "help", "帮助": "help", "?": "help", "？": "help",
    "quit": "quit", "exit": "quit", "退出": "quit",
    "undo": "undo", "撤销": "undo",
    # Also an argument word ("history P1.1"): alone, every change of the application.
    "history": "history", "历史": "history",
    # Sign-off (flows.sign_off): also argument words ("approve T1.2", "changes T1.2 REASON").
    "approve": "approve", "批准": "approve",
    "review": "review", "待签核": "review",
}
# Commands that take the rest of the line as their argument.
ARGUMENT_WORDS: dict[str, str] = {
    "goto": "goto", "跳到": "goto", "转到": "goto",
    "note": "note", "备注": "note",
    "evidence": "evidence", "证据": "evidence",
    "date": "date", "日期": "date",
    "assign": "assign", "分配": "assign",
    "set": "set", "设置": "set",
    "history": "history", "历史": "history",
    "approve": "approve", "批准": "approve",
    "changes": "changes", "需修改": "changes",
    # ``plan 2027-01-12 10:00``: the current item's drill (the terminal writes the invite).
    "plan": "plan", "计划": "plan",
}

# What ``set`` changes: ``set audit 2027-03-01``, ``设置 审核日期 2027-03-01``.
SETTING_WORDS: dict[str, str] = {
    "audit": "target_audit_date", "audit date": "target_audit_date", "审核日期": "target_audit_date",
    "审核": "target_audit_date",
    "delivery": "delivery_type", "交付方式": "delivery_type", "交付": "delivery_type",
    "categories": "categories", "category": "categories", "类别": "categories",
    "language": "language", "lang": "language", "语言": "language",
    "reviewers": "reviewers", "reviewer": "reviewers", "审阅人": "reviewers",
    "sign-off": "require_sign_off", "signoff": "require_sign_off", "签核": "require_sign_off",
}
# Values typed for a setting, besides its ids and list numbers.
DELIVERY_WORDS: dict[str, str] = {
    "customer": "customer_deployed", "customer-deployed": "customer_deployed", "客户部署": "customer_deployed",
    "客户": "customer_deployed",
}
LANGUAGE_WORDS: dict[str, str] = {
    "english": "en", "英文": "en", "英语": "en", "chinese": "zh", "中文": "zh", "汉语": "zh",
}
# Whether the verdict requires sign-off: ``set sign-off required`` / ``设置 签核 必需``.
SIGN_OFF_WORDS: dict[str, bool] = {
    "required": True, "require": True, "on": True, "yes": True, "必需": True, "需要": True, "是": True,
    "optional": False, "off": False, "no": False, "可选": False, "不需要": False, "否": False,
}
# "No target audit date".
NONE_WORDS = ("none", "no", "-", "无", "没有")


@dataclass(frozen=True)
class Command:
    name: str  # one of the values above, or "text" for anything else
    argument: str = ""


def parse_setting(argument: str) -> tuple[str | None, str]:
    """``"audit 2027-03-01"`` → ``("target_audit_date", "2027-03-01")``; None when the
    setting is not named."""
    text = argument.strip()
    for word in sorted(SETTING_WORDS, key=len, reverse=True):  # "audit date" before "audit"
        if text.lower() == word or text.lower().startswith(word + " ") or (
                not word.isascii() and text.startswith(word)):
            return SETTING_WORDS[word], text[len(word):].strip().lstrip("：:").strip()
    return None, text


def parse_command(line: str) -> Command:
    text = line.strip()
    lowered = text.lower()
    if lowered in WORDS:
        return Command(WORDS[lowered])
    head, _, rest = text.partition(" ")
    if not rest:
        # Chinese commands are often typed without a space: "备注内容", "跳到T1.2".
        for word, name in ARGUMENT_WORDS.items():
            if not word.isascii() and text.startswith(word) and len(text) > len(word):
                return Command(name, text[len(word):].strip().lstrip("：:").strip())
    if head.lower() in ARGUMENT_WORDS:
        return Command(ARGUMENT_WORDS[head.lower()], rest.strip().lstrip("：:").strip())
    return Command("text", text)


# ``/competency WORD …`` in Slack: each word, in both languages, names one subcommand.
# The walk's own words (help, status, goto, assign) keep the aliases the walk accepts.
SUBCOMMANDS: dict[str, str] = {
    **{word: name for word, name in WORDS.items() if name in ("help", "status")},
    **{word: name for word, name in ARGUMENT_WORDS.items() if name in ("goto", "assign")},
    "start": "start",
    "next": "next",
    "export": "export", "导出": "export",
    "case": "case", "案例": "case",
    "cases": "cases", "案例列表": "cases",
    "documents": "documents", "文档": "documents",
    "pdm": "pdm",
    "digest": "digest", "摘要": "digest",
    "reminders": "reminders", "提醒": "reminders",
    "sync": "sync", "同步": "sync",
    "reviewers": "reviewers", "审阅人": "reviewers",
    "review": "review", "待签核": "review",
    "upgrade": "upgrade", "升级": "upgrade",
}


def parse_subcommand(text: str) -> tuple[str, str]:
    """``"goto T1.2"`` → ``("goto", "T1.2")``; an empty text is ``help``; an unknown
    word is returned as it was typed, for the refusal to quote."""
    word, _, rest = text.strip().partition(" ")
    lowered = word.lower() or "help"
    return SUBCOMMANDS.get(lowered, lowered), rest.strip()


def parse_lead_days(text: str) -> tuple[int, ...] | None | str:
    """``"30,14,7"`` → (30, 14, 7); ``"default"`` → None; ``"off"`` → (); anything else → ``"invalid"``."""
    words = text.replace(",", " ").replace("，", " ").split()
    if words in (["default"], ["默认"]):
        return None
    if words in (["off"], ["关闭"]):
        return ()
    if not words or not all(word.isdigit() and int(word) <= 366 for word in words):
        return "invalid"
    return tuple(sorted({int(word) for word in words}, reverse=True))
