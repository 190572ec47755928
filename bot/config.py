"""Settings from the environment (Heroku conventions), with helpful errors.

The one module that reads the environment: everything else is handed its settings.
Every reader takes ``env`` (default: the process's environment) so tests pass their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flows.application import DEFAULT_LANGUAGE
from flows.digest import DEFAULT_SCHEDULE, DigestChannel, Schedule, ScheduleProblem, parse_schedule

APP_NAME = "competency-bot"
DEFAULT_DATABASE_FILE = "competency.db"
SECRET_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_SECRET", "SLACK_APP_TOKEN",
                    "TOKEN_ENCRYPTION_KEY")
SLACK_API_DEFAULT = "https://slack.com/api/"


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    return dict(os.environ if env is None else env)


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

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(cls, command: str, env: Mapping[str, str] | None = None) -> SlackSettings:
        env = _env(env)
        settings = cls(
            signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            client_id=env.get("SLACK_CLIENT_ID") or None,
            client_secret=env.get("SLACK_CLIENT_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            token_keys=env.get("TOKEN_ENCRYPTION_KEY") or None,
            api_url=env.get("SLACK_API_URL") or SLACK_API_DEFAULT,
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


def database_url(env: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL, or ``competency.db`` in the user's data folder: the same database
    whichever folder a command runs in (the folder is created when first needed)."""
    configured = _env(env).get("DATABASE_URL")
    if configured:
        return configured
    from platformdirs import user_data_path

    folder = user_data_path(APP_NAME, appauthor=False)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DEFAULT_DATABASE_FILE}"


def invites_folder() -> Path:
    """Where the terminal writes drill invites (``.ics``): ``invites`` in the user's data
    folder, next to the default database (created when first needed)."""
    from platformdirs import user_data_path

    folder = user_data_path(APP_NAME, appauthor=False) / "invites"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_timezone() -> str:
    """The machine's IANA time zone (``TZ``, else the system's, as tzlocal reads them);
    UTC when it has none that tzlocal can name."""
    import tzlocal

    try:
        return tzlocal.get_localzone_name() or "UTC"
    except (LookupError, ValueError, OSError):  # no zone configured, or not an IANA name
        return "UTC"


def checklists_folder(env: Mapping[str, str] | None = None) -> Path:
    """CHECKLISTS_DIR, or ``checklists`` in the user's data folder: the operator's own
    installed checklists (``checklist import-lens`` writes there), beside the product's
    ``flows/checklists``. It need not exist."""
    configured = _env(env).get("CHECKLISTS_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False) / "checklists"


def default_language(env: Mapping[str, str] | None = None) -> str:
    """The language of a new application when ``--lang`` is not given: the locale's,
    read as POSIX does (LC_ALL over LC_MESSAGES over LANG); ``zh…`` is Chinese and
    anything else English."""
    env = _env(env)
    locale = next((env[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(name)), "")
    return "zh" if locale.lower().startswith("zh") else "en"


def token_keys(env: Mapping[str, str] | None = None) -> str:
    """TOKEN_ENCRYPTION_KEY: comma-separated Fernet keys, the first encrypts ("" when unset)."""
    return _env(env).get("TOKEN_ENCRYPTION_KEY", "")


def login_user(env: Mapping[str, str] | None = None) -> str | None:
    """USER: who is at the terminal, when it is set."""
    return _env(env).get("USER") or None


@dataclass(frozen=True)
class DigestSettings:
    pdm_channel: str = ""  # PDM_CHANNEL: for applications without their own
    schedule: Schedule = DEFAULT_SCHEDULE  # DIGEST_SCHEDULE: for channels without settings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DigestSettings:
        env = _env(env)
        try:
            schedule = parse_schedule(env["DIGEST_SCHEDULE"]) if env.get("DIGEST_SCHEDULE") else DEFAULT_SCHEDULE
        except ScheduleProblem as problem:
            from bot.render import render  # imported here: the settings are read before any template

            raise ConfigError(
                render("cli.j2", "bad_schedule", "en", text=problem.text, reason=problem.reason)
            ) from None
        return cls(pdm_channel=env.get("PDM_CHANNEL", "").strip(), schedule=schedule)

    def new_channel(self, team_id: str, channel_id: str, language: str = DEFAULT_LANGUAGE) -> DigestChannel:
        """The settings a channel gets when it is first named: the language of the
        application that named it, UTC, the default schedule."""
        return DigestChannel(channel_id=channel_id, team_id=team_id, language=language, schedule=self.schedule)


@dataclass(frozen=True)
class ClockSettings:
    interval_minutes: int = 10  # REMINDER_INTERVAL_MINUTES: how often reminders and digests are looked at

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClockSettings:
        return cls(interval_minutes=int(_env(env).get("REMINDER_INTERVAL_MINUTES", "10")))


@dataclass(frozen=True)
class WebSettings:
    port: str = "3000"  # PORT
    # WEB_WORKERS: gunicorn worker processes. Two on two cores answered 1.3 times as fast as
    # one (each has its own interpreter lock); see the README's Performance section.
    workers: int = 2
    threads: int = 10  # WEB_THREADS: the threads of each worker that handle requests

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        env = _env(env)
        return cls(port=env.get("PORT", "3000"), workers=int(env.get("WEB_WORKERS", "2")),
                   threads=int(env.get("WEB_THREADS", "10")))


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"  # LOG_LEVEL
    secrets: tuple[str, ...] = ()  # the values of SECRET_VARIABLES, scrubbed from every line

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogSettings:
        env = _env(env)
        return cls(level=env.get("LOG_LEVEL", "INFO").upper(),
                   secrets=tuple(env.get(name, "") for name in SECRET_VARIABLES))
