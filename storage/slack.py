"""Slack bookkeeping: delivered-once keys, channel membership, item messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from storage import models
from storage.db import Database


def first_delivery(db: Database, key: str, now: datetime) -> bool:
    """Claim a delivery key; False when another request (or process) already did."""
    try:
        with db.session() as session:
            session.add(models.ProcessedDelivery(key=key[:200], at=now))
        return True
    except IntegrityError:
        return False


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
    with db.session() as session:
        session.merge(
            models.ItemMessage(
                team_id=team_id, channel_id=channel_id, ts=ts, application_id=application_id, item_id=item_id
            )
        )


def item_message(db: Database, team_id: str, channel_id: str, ts: str) -> models.ItemMessage | None:
    with db.session() as session:
        return session.get(models.ItemMessage, (team_id, channel_id, ts))
