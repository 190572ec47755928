"""Which kind of message a message event is: the listeners' matchers, and what the error
handler asks of a typed step it could not store (``bot/slack/failures.py``)."""

from __future__ import annotations


def is_typed(event: dict) -> bool:
    """Typed by a person ("also send to channel" included): not an edit, a join notice, a
    file share, nor a bot's message."""
    return event.get("subtype") in (None, "thread_broadcast") and not event.get("bot_id")


def is_file_share(event: dict) -> bool:
    return event.get("subtype") == "file_share" and not event.get("bot_id")


def in_thread(event: dict) -> bool:
    return event.get("channel_type") != "im" and bool(event.get("thread_ts")) and event["thread_ts"] != event.get("ts")


def in_direct_message(event: dict) -> bool:
    return event.get("channel_type") == "im"
