"""The Bolt app, built by one factory so tests can point it at a stand-in Web API."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import BOT_SCOPES, SlackSettings
from bot.slack import home, walk
from bot.slack.commands import CommandRouter
from bot.slack.installations import EncryptedInstallationStore, TokenCipher, oauth_state_store
from storage.db import Database

log = logging.getLogger(__name__)


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
    router = CommandRouter(db)
    walk.register(app, db, router)
    home.register(app, db)
    app.command("/competency")(router.dispatch)
    return app
