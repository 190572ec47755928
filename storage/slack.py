"""Slack bookkeeping: delivered-once keys, channel membership, item messages."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, select, text, update
from sqlalchemy.orm import Session

from flows.application import ApplicationState
from storage import applications, models
from storage.db import Database, insert_unless_present
from storage.errors import ApplicationNotFound


def _stored_key(key: str) -> str:
    """A delivery key as stored (at most the column's length)."""
    return key[:models.ProcessedDelivery.key.type.length]


def _claim_delivery(session: Session, key: str, now: datetime) -> bool:
    """Claim a delivery key in the caller's transaction; False when another request (or
    process) already did. RETURNING tells, since rowcount is unreliable after ON CONFLICT."""
    connection = session.connection()  # a plain statement: the ORM's insert machinery cost more than the insert
    inserted = connection.execute(
        insert_unless_present(connection.dialect.name, models.ProcessedDelivery, returning="key"),
        {"key": _stored_key(key), "at": now},
    ).first()
    return inserted is not None


def first_delivery(db: Database, key: str, now: datetime) -> bool:
    """Claim a delivery key in a transaction of its own."""
    with db.session() as session:
        return _claim_delivery(session, key, now)


_WRITE_CHECK = "healthz:write"


def check_writes(db: Database, now: datetime) -> None:
    """The write canary of ``/healthz``: one row rewritten and committed, so a database that
    reads but cannot write (a full disk, a read-only file or replica) raises
    :class:`~storage.errors.DatabaseUnavailable` here rather than in the next answer."""
    with db.session() as session:
        session.execute(delete(models.ProcessedDelivery).where(models.ProcessedDelivery.key == _WRITE_CHECK))
        session.add(models.ProcessedDelivery(key=_WRITE_CHECK, at=now))


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


@dataclass(frozen=True)
class Membership:
    """An application as workspace ``team_id``'s member ``user_id`` meets it: its channel,
    when that channel's members were last read from Slack (None: never), whether the user
    may change it (is a member of its channel), and its state as read, with the version
    that state is (:func:`storage.walks.answer_from_slack` writes it without a lock).

    ``presumed_at``: None when a statement read all this; else the update time of the
    state this process knew, presumed current with the user presumed a member
    (:func:`presumed_membership`), which the press's write confirms."""

    state: ApplicationState
    version: int
    channel_id: str
    synced_at: datetime | None
    may_change: bool
    team_id: str
    user_id: str
    presumed_at: datetime | None = None

    @property
    def application_id(self) -> int:
        return self.state.id

    @property
    def language(self) -> str:
        """For a refusal."""
        return self.state.language


_APPLICATIONS, _MEMBERS = models.Application.__table__, models.ChannelMember.__table__
_SYNCS = models.ChannelSync.__table__
# Built once: every request naming an application runs it. It reads the application's
# row, not its answers: whether the state this process knows (storage.known_states) is
# the one stored is decided here, in SQL, where SQLite compares the update time as
# stored (Python would compare its own aware datetime with SQLite's naive one).
_MEMBERSHIP = select(
    _APPLICATIONS.c.version,
    _APPLICATIONS.c.channel_id,
    and_(_APPLICATIONS.c.version == bindparam("known_version", type_=_APPLICATIONS.c.version.type),
         _APPLICATIONS.c.updated_at == bindparam("known_updated_at", type_=_APPLICATIONS.c.updated_at.type),
         ).label("is_known"),
    _SYNCS.c.synced_at.label("members_synced_at"),
    applications.may_change_from_slack().label("is_member"),
).select_from(_APPLICATIONS.outerjoin(_SYNCS, and_(_SYNCS.c.team_id == _APPLICATIONS.c.team_id,
                                                   _SYNCS.c.channel_id == _APPLICATIONS.c.channel_id))
              ).where(_APPLICATIONS.c.id == bindparam("application_id"))


def membership(db: Database, team_id: str, application_id: int, user_id: str) -> Membership | None:
    """Application ``application_id``, and whether ``user_id`` may change it, that is, is
    a member of its channel in its own workspace ``team_id``; None when there is no such
    application. One statement when this process knows the application as stored (a
    walk's presses mostly come to the process that stored the one before), else two."""
    known = db.known_states.get(application_id)
    with db.single_statement() as connection:
        row = connection.execute(_MEMBERSHIP, {
            "application_id": application_id, "member_team_id": team_id, "member_user_id": user_id,
            "known_version": known.version if known else -1, "known_updated_at": known.updated_at if known else None,
        }).first()
    if row is None:
        return None
    if row.is_known:
        state, version = known.state, row.version
    else:
        try:
            state, version = applications.read_known(db, application_id)
        except ApplicationNotFound:  # deleted in between (a workspace erased)
            return None
    return Membership(state, version, row.channel_id, row.members_synced_at, bool(row.is_member), team_id, user_id)


def presumed_membership(db: Database, team_id: str, application_id: int, user_id: str) -> Membership | None:
    """The membership a press's write checks, without a statement before it: the state
    this process knows, presumed current, and the user presumed a member. The write
    (:func:`storage.walks.answer_from_slack`) confirms both in the statement that writes,
    or writes nothing. None when this process does not know the application, and on
    SQLite, where a press is written under the application's lock after a check."""
    known = None if db.is_sqlite else db.known_states.get(application_id)
    if known is None:
        return None
    return Membership(known.state, known.version, known.channel_id, None, True, team_id, user_id,
                      presumed_at=known.updated_at)


def in_application_channel(db: Database, application_id: int, user_id: str) -> bool:
    """Is ``user_id`` a member of the application's channel (as last read from Slack)?"""
    with db.single_statement() as connection:
        return connection.execute(
            select(_MEMBERS.c.user_id).select_from(_APPLICATIONS.join(
                _MEMBERS, and_(_MEMBERS.c.team_id == _APPLICATIONS.c.team_id,
                               _MEMBERS.c.channel_id == _APPLICATIONS.c.channel_id)))
            .where(_APPLICATIONS.c.id == application_id, _MEMBERS.c.user_id == user_id)
        ).first() is not None


def channels_of(db: Database, team_id: str, user_id: str) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(models.ChannelMember.channel_id).where(
                    models.ChannelMember.team_id == team_id, models.ChannelMember.user_id == user_id
                )
            )
        )


@dataclass(frozen=True)
class ItemMessage:
    """The Slack message (workspace, channel, ts) that shows an application's item."""

    team_id: str
    channel_id: str
    ts: str
    application_id: int
    item_id: str


_ITEM_MESSAGES = models.ItemMessage.__table__
# Built once: every answer looks for the live message and remembers the one it posts.
_ITEM_MESSAGE = select(_ITEM_MESSAGES.c.application_id, _ITEM_MESSAGES.c.item_id).where(
    _ITEM_MESSAGES.c.team_id == bindparam("team_id"), _ITEM_MESSAGES.c.channel_id == bindparam("channel_id"),
    _ITEM_MESSAGES.c.ts == bindparam("ts"))
_LIVE_ITEM_MESSAGE = select(_ITEM_MESSAGES.c.ts, _ITEM_MESSAGES.c.item_id).where(
    _ITEM_MESSAGES.c.team_id == bindparam("team_id"), _ITEM_MESSAGES.c.channel_id == bindparam("channel_id"),
    _ITEM_MESSAGES.c.application_id == bindparam("application_id"),
).order_by(_ITEM_MESSAGES.c.ts.desc()).limit(1)
# The message live until one was posted is the newest one posted before it (Slack's ts
# grow within a channel): a later press's post may be remembered first, and must not be
# taken for the one this post replaces.
_LIVE_BEFORE = _LIVE_ITEM_MESSAGE.where(_ITEM_MESSAGES.c.ts < bindparam("ts"))
# PostgreSQL runs both in one statement; its SELECT sees the table as it was before the INSERT.
_REMEMBER_AND_FIND_LIVE = _LIVE_BEFORE.add_cte(
    insert_unless_present("postgresql", models.ItemMessage).values(
        {name: bindparam(name) for name in ("team_id", "channel_id", "ts", "application_id", "item_id")}
    ).cte("remembered"))


def item_message(db: Database, team_id: str, channel_id: str, ts: str) -> ItemMessage | None:
    with db.single_statement() as connection:
        row = connection.execute(_ITEM_MESSAGE, {"team_id": team_id, "channel_id": channel_id, "ts": ts}).first()
    return None if row is None else ItemMessage(team_id, channel_id, ts, row.application_id, row.item_id)


def remember_item_message(db: Database, team_id: str, channel_id: str, ts: str, application_id: int,
                          item_id: str) -> ItemMessage | None:
    """Remember an item message just posted (replies in its thread reach its item), and
    return the application's message in that channel that was live until then (its newest
    one posted before this one)."""
    message = {"team_id": team_id, "channel_id": channel_id, "ts": ts, "application_id": application_id,
               "item_id": item_id}
    if not db.is_sqlite:
        row = db.first_row(_REMEMBER_AND_FIND_LIVE, message)
    else:  # one transaction (single_statement on SQLite), two statements
        with db.single_statement() as connection:
            row = connection.execute(_LIVE_BEFORE, message).first()
            connection.execute(insert_unless_present("sqlite", models.ItemMessage), message)
    return None if row is None else ItemMessage(team_id, channel_id, row.ts, application_id, row.item_id)


_NEWEST_OF_ITEM = _LIVE_ITEM_MESSAGE.where(_ITEM_MESSAGES.c.item_id == bindparam("item_id"))


def newest_item_message(db: Database, team_id: str, channel_id: str, application_id: int,
                        item_id: str) -> ItemMessage | None:
    """An item's newest message in a channel: the one whose thread is the item's."""
    with db.single_statement() as connection:
        row = connection.execute(_NEWEST_OF_ITEM, {"team_id": team_id, "channel_id": channel_id,
                                                   "application_id": application_id, "item_id": item_id}).first()
    return None if row is None else ItemMessage(team_id, channel_id, row.ts, application_id, row.item_id)


def keep_pending_text(db: Database, team_id: str, user_id: str, text: str, now: datetime) -> str:
    """Keep a DM's text until its author picks the application; the key to ask for it."""
    key = secrets.token_hex(16)
    with db.session() as session:
        session.add(models.PendingText(key=key, team_id=team_id, user_id=user_id, text=text, created_at=now))
    return key


def take_pending_text(db: Database, key: str, team_id: str, user_id: str) -> str | None:
    """The text kept under ``key`` for this user, removed: a pick applies it once."""
    table = models.PendingText.__table__
    with db.session() as session:
        found = session.execute(
            select(table.c.text).where(table.c.key == key, table.c.team_id == team_id, table.c.user_id == user_id)
            .with_for_update()
        ).scalar()
        if found is not None:
            session.execute(delete(table).where(table.c.key == key))
    return found


def erase_workspace(db: Database, team_id: str) -> int:
    """Every application of workspace ``team_id``, with all that hangs on it (answers,
    evidence, history, case studies, reminders, item messages: deleted by cascade), and
    the workspace's own records (members, people, PDM channels, digests, pending texts), in
    one transaction. Its tokens are deleted when it uninstalls the app; this is the
    operator's erasure of its data. Returns how many applications went."""
    team_tables = (models.ChannelMember, models.ChannelSync, models.PendingText, models.SlackUser,
                   models.PdmChannel, models.DigestLog)
    with db.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            # History refuses DELETE (migration 0005); erasing is the one exception, and the
            # trigger is back on when this transaction ends, whatever happens.
            session.execute(text("ALTER TABLE history DISABLE TRIGGER history_append_only"))
        erased = session.execute(delete(models.Application).where(models.Application.team_id == team_id)).rowcount
        for model in team_tables:
            session.execute(delete(model).where(model.team_id == team_id))
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ALTER TABLE history ENABLE TRIGGER history_append_only"))
    return erased


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
