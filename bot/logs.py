"""Process logging: one stream to standard output, with secrets scrubbed from every line.

Libraries log more than we would at DEBUG (slack_sdk prints response bodies, Bolt prints
the body of a request whose signature fails), so scrubbing happens on the handler,
where every record of every library passes.
"""

from __future__ import annotations

import logging
import re
import sys

from bot.config import LogSettings

# Slack tokens (bot, user, app, refresh, config) and our encrypted form of them.
TOKEN_PATTERN = re.compile(r"\b(?:xox[abposer]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+|enc:[A-Za-z0-9_=-]{20,}")
# Bolt logs the body of a request that fails verification; bodies hold user text.
BODY_PATTERN = re.compile(r"(body: ).*?(\)?)$", re.DOTALL)
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = TOKEN_PATTERN.sub(REDACTED, text)
        if record.name.startswith("slack_bolt.RequestVerification"):
            cleaned = BODY_PATTERN.sub(rf"\g<1>{REDACTED}\g<2>", cleaned)
        for secret in self.secrets:
            for part in secret.split(","):
                if len(part.strip()) >= 6:
                    cleaned = cleaned.replace(part.strip(), REDACTED)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = TOKEN_PATTERN.sub(REDACTED, record.exc_text)
        return True


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings.from_env()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecrets(list(settings.secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
