"""The Bolt app, built by one factory so tests can point it at a stand-in Web API."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.config import BOT_SCOPES, DigestSettings, SlackSettings
from bot.slack import listeners
from bot.slack.middleware import provide_services
from bot.slack.web_api import web_client
from storage.db import Database
from storage.errors import ApplicationNotFound
from storage.installations import EncryptedInstallationStore, TokenCipher, oauth_state_store

log = logging.getLogger(__name__)
# What a forged or outdated payload raises on our parsing: bad ids, missing fields.
MALFORMED = (ValueError, KeyError, IndexError, TypeError, ApplicationNotFound)


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
                    settings.client_id, db, TokenCipher(settings.token_keys)
                ),
                state_store=oauth_state_store(db),
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
    app.error(drop_malformed)
    app.use(provide_services(db, DigestSettings.from_env()))
    listeners.register(app)
    return app


def drop_malformed(error: Exception, response: BoltResponse | None) -> BoltResponse | None:
    """A payload Slack would never send (forged or stale ids) is acknowledged and dropped;
    anything else is logged with its traceback and answered 500."""
    if isinstance(error, MALFORMED):
        log.warning("dropped a malformed request (%s)", type(error).__name__)
        return BoltResponse(status=200, body="") if response is not None else None
    log.error("listener failed", exc_info=error)
    return None
