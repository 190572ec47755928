"""The tutorial candidate: the same work as bench/lean_app.py done the way Bolt's and
SQLAlchemy's tutorials show it (ORM models, a Session per request, default pool), served
like the bot. Run by bench/web_bench.py.

    PORT=… DATABASE_URL=postgresql://… SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… \
        python bench/tutorial_app.py
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import String, UniqueConstraint, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.bare_app import bolt_web_app
from bench.support import answered_message, next_item_message, press, serve, walk_items


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Delivery(Base):
    __tablename__ = "tutorial_deliveries"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Answer(Base):
    __tablename__ = "tutorial_answers"
    __table_args__ = (UniqueConstraint("application_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int]
    item_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    answered_by: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class History(Base):
    __tablename__ = "tutorial_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int]
    item_id: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None]
    new_value: Mapped[str | None]
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


TABLES = (Delivery.__tablename__, Answer.__tablename__, History.__tablename__)
engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
ITEMS = walk_items()


def answer(ack, body, action, client) -> None:
    key, application, item, status, user, channel = press(body, action)
    with Session(engine) as session:
        if session.get(Delivery, key) is not None:
            ack()  # a retry: applied already
            return
        session.add(Delivery(key=key))
        row = session.scalars(select(Answer).filter_by(application_id=application, item_id=item)).one_or_none()
        old = row.status if row else None
        if row is None:
            row = Answer(application_id=application, item_id=item)
            session.add(row)
        row.status, row.answered_by, row.answered_at = status, user, utcnow()
        session.add(History(application_id=application, item_id=item, field="status", old_value=old,
                            new_value=status, actor=user))
        session.commit()
    ack()
    client.chat_update(channel=channel, ts=body["message"]["ts"], **answered_message(item, status, user))
    client.chat_postMessage(channel=channel, **next_item_message(application, item, ITEMS))


if __name__ == "__main__":
    Base.metadata.create_all(engine)
    engine.dispose()  # no connection made here may be shared with the forked worker
    serve(bolt_web_app(answer), os.environ["PORT"])
