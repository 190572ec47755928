"""OAuth installations in the application's database, with tokens encrypted at rest.

slack_sdk's SQLAlchemy store does the storing; this subclass only encrypts every token
on the way in and decrypts on the way out (Fernet, keys from TOKEN_ENCRYPTION_KEY), so
a database dump alone never reveals a token.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from storage.db import Database
from storage.models import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE
from storage.slack import TOKEN_COLUMNS

PREFIX = "enc:"


class TokenCipher:
    """Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation)."""

    def __init__(self, keys: str):
        try:
            self.fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
        except (ValueError, TypeError) as error:
            raise ValueError(
                "TOKEN_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes)"
            ) from error

    def encrypt(self, value: str | None) -> str | None:
        if not value or value.startswith(PREFIX):
            return value
        return PREFIX + self.fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if not value or not value.startswith(PREFIX):
            return value
        try:
            return self.fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise ValueError("a stored Slack token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from None

    def rotate(self, value: str | None) -> str | None:
        """Re-encrypt with the first key (MultiFernet.rotate); plain values get encrypted."""
        if not value:
            return value
        if not value.startswith(PREFIX):
            return self.encrypt(value)
        try:
            return PREFIX + self.fernet.rotate(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise ValueError("a stored Slack token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from None


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
        return _with_tokens(bot, self.cipher.decrypt) if bot else None

    def find_installation(self, **kwargs) -> Installation | None:
        installation = super().find_installation(**kwargs)
        return _with_tokens(installation, self.cipher.decrypt) if installation else None


def oauth_state_store(db: Database) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=db.engine, table_name=OAUTH_STATES_TABLE)
