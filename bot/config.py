"""Settings from the environment (Heroku conventions), with helpful errors."""

from __future__ import annotations

import os
from dataclasses import dataclass

SLACK_API_DEFAULT = "https://slack.com/api/"
BOT_SCOPES = [
    "commands", "chat:write", "chat:write.public", "im:write", "im:history", "channels:read",
    "groups:read", "channels:history", "groups:history", "users:read", "files:write",
]


class ConfigError(Exception):
    """Settings are missing; the message says which and how to get them."""


def missing_message(names: list[str], command: str) -> str:
    """Which settings ``command`` lacks and where each comes from (templates/cli.j2)."""
    from bot.render import render  # imported here: the settings are read before any template

    return render("cli.j2", "missing_settings", "en", command=command, names=names)


@dataclass(frozen=True)
class SlackSettings:
    signing_secret: str
    bot_token: str | None
    client_id: str | None
    client_secret: str | None
    app_token: str | None
    token_keys: str | None
    api_url: str
    pdm_channel: str | None

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(cls, command: str, env: dict[str, str] | None = None) -> SlackSettings:
        env = dict(os.environ if env is None else env)
        settings = cls(
            signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            client_id=env.get("SLACK_CLIENT_ID") or None,
            client_secret=env.get("SLACK_CLIENT_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            token_keys=env.get("TOKEN_ENCRYPTION_KEY") or None,
            api_url=env.get("SLACK_API_URL") or SLACK_API_DEFAULT,
            pdm_channel=env.get("PDM_CHANNEL") or None,
        )
        missing = []
        if command == "web" and not settings.signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        if not settings.bot_token and not settings.oauth:
            missing.append("SLACK_BOT_TOKEN")
        if settings.oauth and not settings.token_keys:
            missing.append("TOKEN_ENCRYPTION_KEY")
        if command == "socket" and not settings.app_token:
            missing.append("SLACK_APP_TOKEN")
        if missing:
            raise ConfigError(missing_message(missing, command))
        return settings
