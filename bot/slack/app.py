"""The Bolt app, built by one factory so tests can point it at a stand-in Web API."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import BOT_SCOPES, SlackSettings
from bot.slack import case_studies, digest, home, reminders, walk
from bot.slack.commands import CommandRouter
from bot.slack.installations import EncryptedInstallationStore, TokenCipher, oauth_state_store
from storage.applications import ApplicationNotFound
from storage.db import Database

log = logging.getLogger(__name__)
# What a forged or outdated payload raises on our parsing: bad ids, missing fields.
MALFORMED = (ValueError, KeyError, IndexError, TypeError, ApplicationNotFound)


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """The one Web API client configuration: base URL override and retries with Retry-After."""
    return WebClient(
        token=token,
        base_url=settings.api_url,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def client_factory(settings: SlackSettings, db: Database):  # noqa: ANN201
    """A function team id → Web API client with that workspace's bot token (or None),
    for the processes that talk to Slack without an incoming request (clock, remind)."""
    if not settings.oauth:
        client = web_client(settings, settings.bot_token)
        return lambda team_id: client
    store = EncryptedInstallationStore(settings.client_id, db.engine, TokenCipher(settings.token_keys))

    def for_team(team_id: str) -> WebClient | None:
        bot = store.find_bot(enterprise_id=None, team_id=team_id)
        return web_client(settings, bot.bot_token) if bot else None

    return for_team


def build_app(settings: SlackSettings, db: Database) -> App:
    if settings.oauth:
        app = App(
            signing_secret=settings.signing_secret,
            client=web_client(settings),
            oauth_settings=OAuthSettings(
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                scopes=BOT_SCOPES,
                installation_store=EncryptedInstallationStore(
                    settings.client_id, db.engine, TokenCipher(settings.token_keys)
                ),
                state_store=oauth_state_store(db.engine),
            ),
            oauth_flow=None,
        )
    else:
        app = App(
            signing_secret=settings.signing_secret,
            token=settings.bot_token,
            client=web_client(settings, settings.bot_token),
            token_verification_enabled=False,
        )
    @app.error
    def on_listener_error(error: Exception, response: BoltResponse | None):
        """A payload Slack would never send (forged or stale ids) is acknowledged and
        dropped; anything else is logged with its traceback and answered 500."""
        if isinstance(error, MALFORMED):
            log.warning("dropped a malformed request (%s)", type(error).__name__)
            return BoltResponse(status=200, body="") if response is not None else None
        log.error("listener failed", exc_info=error)
        return None

    router = CommandRouter(db)
    walk.register(app, db, router)
    case_studies.register(app, db, router)
    digest.register(app, db, router)
    home.register(app, db)
    reminders.register(app, db, router)
    app.command("/competency")(router.dispatch)
    return app
