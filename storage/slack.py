"""Slack bookkeeping: delivered-once keys, channel membership, item messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage import models
from storage.db import Database, insert_unless_present


def claim_delivery(session: Session, key: str, now: datetime) -> bool:
    """Claim a delivery key in the caller's transaction; False when another request (or
    process) already did. RETURNING tells, since rowcount is unreliable after ON CONFLICT."""
    connection = session.connection()  # a plain statement: the ORM's insert machinery cost more than the insert
    inserted = connection.execute(
        insert_unless_present(connection.dialect.name, models.ProcessedDelivery, returning="key"),
        {"key": key[:200], "at": now},
    ).first()
    return inserted is not None


def first_delivery(db: Database, key: str, now: datetime) -> bool:
    """Claim a delivery key in a transaction of its own."""
    with db.session() as session:
        return claim_delivery(session, key, now)


def replace_members(db: Database, team_id: str, channel_id: str, user_ids: list[str], now: datetime) -> None:
    with db.session() as session:
        session.execute(
            delete(models.ChannelMember).where(
                models.ChannelMember.team_id == team_id, models.ChannelMember.channel_id == channel_id
            )
        )
        session.add_all(
            models.ChannelMember(team_id=team_id, channel_id=channel_id, user_id=user)
            for user in dict.fromkeys(user_ids)
        )
        session.merge(models.ChannelSync(team_id=team_id, channel_id=channel_id, synced_at=now))


def member_joined(db: Database, team_id: str, channel_id: str, user_id: str) -> None:
    with db.session() as session:
        session.merge(models.ChannelMember(team_id=team_id, channel_id=channel_id, user_id=user_id))


def member_left(db: Database, team_id: str, channel_id: str, user_id: str) -> None:
    with db.session() as session:
        session.execute(
            delete(models.ChannelMember).where(
                models.ChannelMember.team_id == team_id,
                models.ChannelMember.channel_id == channel_id,
                models.ChannelMember.user_id == user_id,
            )
        )


def may_change(db: Database, team_id: str, application_id: int, user_id: str) -> bool:
    """Only members of the application's channel, in its own workspace, change it."""
    with db.session() as session:
        application = session.get(models.Application, application_id)
        if application is None or application.team_id != team_id:
            return False
        member = (team_id, application.channel_id, user_id)
        return session.get(models.ChannelMember, member) is not None


def channels_of(db: Database, team_id: str, user_id: str) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(models.ChannelMember.channel_id).where(
                    models.ChannelMember.team_id == team_id, models.ChannelMember.user_id == user_id
                )
            )
        )


def remember_item_message(
    db: Database, team_id: str, channel_id: str, ts: str, application_id: int, item_id: str
) -> None:
    with db.single_statement() as connection:
        connection.execute(
            insert_unless_present(connection.dialect.name, models.ItemMessage),
            {"team_id": team_id, "channel_id": channel_id, "ts": ts, "application_id": application_id,
             "item_id": item_id},
        )


def item_message(db: Database, team_id: str, channel_id: str, ts: str) -> models.ItemMessage | None:
    with db.session() as session:
        return session.get(models.ItemMessage, (team_id, channel_id, ts))


TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


def rewrite_tokens(db: Database, transform: Callable[[str | None], str | None]) -> int:
    """Pass every stored Slack token through ``transform`` (key rotation), in one
    transaction: either every token is re-encrypted or none is. Returns the rows changed."""
    changed = 0
    with db.session() as session:
        for table_name in (models.INSTALLATIONS_TABLE, models.BOTS_TABLE):
            table = models.Base.metadata.tables[table_name]
            columns = [table.c[name] for name in TOKEN_COLUMNS if name in table.c]
            for row in session.execute(select(table.c.id, *columns)).all():
                values = {column.name: transform(getattr(row, column.name)) for column in columns}
                session.execute(update(table).where(table.c.id == row.id).values(**values))
                changed += 1
    return changed
