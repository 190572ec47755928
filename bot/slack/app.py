"""The Bolt app, built by one factory so tests can point it at a stand-in Web API."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from bot.config import DigestSettings, SlackSettings
from bot.slack import failures, listeners
from bot.slack.manifest import bot_scopes
from bot.slack.middleware import CleanText, ProvideServices
from bot.slack.texts import slack_text
from bot.slack.web_api import web_client
from flows.application import DEFAULT_LANGUAGE
from storage.db import Database
from storage.errors import ApplicationNotFound, DatabaseUnavailable
from storage.installations import EncryptedInstallationStore, TokenCipher, oauth_state_store

log = logging.getLogger(__name__)
# What a forged or outdated payload raises on our parsing: bad ids, missing fields.
MALFORMED = (ValueError, KeyError, IndexError, TypeError, ApplicationNotFound)


def build_app(settings: SlackSettings, db: Database) -> App:
    """The Bolt app. Bolt does not check requests' signatures: the web server checks every
    request before Bolt reads its body (:func:`bot.slack.server.create_web_app`), and
    Socket Mode's requests carry none."""
    app = _oauth_app(settings, db) if settings.oauth else App(
        signing_secret=settings.signing_secret,
        client=web_client(settings, settings.bot_token),  # carries the token: Bolt takes it from here
        token_verification_enabled=False,
        request_verification_enabled=False,
    )
    app.error(drop_malformed)
    app.use(CleanText())
    app.use(ProvideServices(db, DigestSettings.from_env()))
    listeners.register(app)
    return app


def _oauth_app(settings: SlackSettings, db: Database) -> App:
    """Many workspaces: installations in the database, tokens encrypted; each workspace's
    authorization cached in the process (Bolt's cache is off by default, which costs an
    ``auth.test`` before every acknowledgement); tokens deleted when a workspace
    uninstalls the app or revokes them (Bolt's listeners; its data stays until an
    operator erases it)."""
    store = EncryptedInstallationStore(settings.client_id, db, TokenCipher(settings.token_keys))
    client = web_client(settings)
    app = App(
        signing_secret=settings.signing_secret,
        client=client,
        request_verification_enabled=False,  # see build_app
        # Said when the workspace's token cannot be had: no installation, or a stored token
        # that TOKEN_ENCRYPTION_KEY cannot decrypt (the store logs the keys tried).
        user_facing_authorize_error_message=slack_text("misconfigured", DEFAULT_LANGUAGE),
        authorize=InstallationStoreAuthorize(
            installation_store=store, client_id=settings.client_id, client_secret=settings.client_secret,
            logger=log, bot_only=True, cache_enabled=True, client=client,
        ),
        oauth_settings=OAuthSettings(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scopes=bot_scopes(),
            installation_store=store,
            installation_store_bot_only=True,
            state_store=oauth_state_store(db),
        ),
    )
    app.enable_token_revocation_listeners()
    return app


def drop_malformed(error: Exception, response: BoltResponse | None, body: dict, context: BoltContext,
                   client: WebClient, request: BoltRequest) -> BoltResponse | None:
    """A payload Slack would never send (forged or stale ids) is acknowledged and dropped;
    a typed step the database could not store is retried or told to the person
    (``bot/slack/failures.py``); anything else is logged with its traceback and answered 500."""
    if isinstance(error, DatabaseUnavailable) and failures.is_typed_step(body):
        return failures.typed_step_not_stored(body, context, client, request)
    if isinstance(error, MALFORMED):
        log.warning("dropped a malformed request (%s)", type(error).__name__)
        return BoltResponse(status=200, body="") if response is not None else None
    log.error("listener failed", exc_info=error)
    return None
