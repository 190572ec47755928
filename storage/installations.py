"""OAuth installations in the application's database, with tokens encrypted at rest.

slack_sdk's SQLAlchemy store does the storing; this subclass only encrypts every token
on the way in and decrypts on the way out (Fernet, keys from TOKEN_ENCRYPTION_KEY), so
a database dump alone never reveals a token.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Callable

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import select

from storage.db import Database
from storage.errors import TokenKeyMismatch
from storage.models import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE, Base
from storage.slack import TOKEN_COLUMNS

PREFIX = "enc:"
log = logging.getLogger(__name__)


class TokenCipher:
    """Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation)."""

    def __init__(self, keys: str):
        # Imported here, as in the two methods below: cryptography's bindings add some 7 MB
        # to a process, and a single-workspace web process never encrypts a token.
        from cryptography.fernet import Fernet, MultiFernet

        given = [key.strip() for key in keys.split(",") if key.strip()]
        try:
            self.fernet = MultiFernet([Fernet(key.encode()) for key in given])
        except (ValueError, TypeError) as error:
            raise ValueError(
                "TOKEN_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes)"
            ) from error
        # What a log line may say about the keys: enough to tell which key is configured
        # where, nothing that helps to recover one.
        self.fingerprints = ", ".join(
            f"key {n} (sha256 {hashlib.sha256(key.encode()).hexdigest()[:8]})" for n, key in enumerate(given, 1))

    def _undecryptable(self) -> TokenKeyMismatch:
        return TokenKeyMismatch(
            f"a stored Slack token cannot be decrypted with TOKEN_ENCRYPTION_KEY; tried {self.fingerprints}")

    def encrypt(self, value: str | None) -> str | None:
        if not value or value.startswith(PREFIX):
            return value
        return PREFIX + self.fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if not value or not value.startswith(PREFIX):
            return value
        from cryptography.fernet import InvalidToken

        try:
            return self.fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise self._undecryptable() from None

    def rotate(self, value: str | None) -> str | None:
        """Re-encrypt with the first key (MultiFernet.rotate); plain values get encrypted."""
        if not value:
            return value
        if not value.startswith(PREFIX):
            return self.encrypt(value)
        from cryptography.fernet import InvalidToken

        try:
            return PREFIX + self.fernet.rotate(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise self._undecryptable() from None


def _with_tokens(entity: Installation | Bot, transform: Callable[[str | None], str | None]) -> Installation | Bot:
    changed = copy.copy(entity)
    for field in TOKEN_COLUMNS:
        if hasattr(changed, field):
            setattr(changed, field, transform(getattr(changed, field)))
    return changed


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    def __init__(self, client_id: str, db: Database, cipher: TokenCipher):
        super().__init__(
            client_id=client_id,
            engine=db.engine,
            installations_table_name=INSTALLATIONS_TABLE,
            bots_table_name=BOTS_TABLE,
        )
        self.cipher = cipher

    def save(self, installation: Installation) -> None:
        super().save(_with_tokens(installation, self.cipher.encrypt))

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(_with_tokens(bot, self.cipher.encrypt))

    def find_bot(self, **kwargs) -> Bot | None:
        bot = super().find_bot(**kwargs)
        return self._decrypted(bot, kwargs.get("team_id")) if bot else None

    def find_installation(self, **kwargs) -> Installation | None:
        installation = super().find_installation(**kwargs)
        return self._decrypted(installation, kwargs.get("team_id")) if installation else None

    def _decrypted(self, entity: Installation | Bot, team_id: str | None) -> Installation | Bot:
        try:
            return _with_tokens(entity, self.cipher.decrypt)
        except TokenKeyMismatch as error:
            # Bolt takes any failure here for a missing installation and logs it at INFO;
            # the operator must see this one, and which keys were tried.
            log.error("%s (team %s)", error, team_id)
            raise


def check_token_key(db: Database, cipher: TokenCipher) -> None:
    """The decryption canary: the newest stored bot token must decrypt with the configured
    keys; raises :class:`~storage.errors.TokenKeyMismatch` when it does not (nothing stored
    yet passes)."""
    bots = Base.metadata.tables[BOTS_TABLE]
    with db.single_statement() as connection:
        token = connection.execute(
            select(bots.c.bot_token).where(bots.c.bot_token.is_not(None)).order_by(bots.c.id.desc()).limit(1)
        ).scalar()
    cipher.decrypt(token)


def oauth_state_store(db: Database) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=db.engine, table_name=OAUTH_STATES_TABLE)
