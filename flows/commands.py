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
}
# Commands that take the rest of the line as their argument.
ARGUMENT_WORDS: dict[str, str] = {
    "goto": "goto", "跳到": "goto", "转到": "goto",
    "note": "note", "备注": "note",
    "evidence": "evidence", "证据": "evidence",
    "date": "date", "日期": "date",
    "assign": "assign", "分配": "assign",
}


@dataclass(frozen=True)
class Command:
    name: str  # one of the values above, or "text" for anything else
    argument: str = ""


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
