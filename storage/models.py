"""SQLAlchemy 2.0 models. Every schema change goes through an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime, timezone

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text, TypeDecorator, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flows.application import DEFAULT_LANGUAGE


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every database: SQLite hands back naive ones otherwise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}


class Application(Base):
    """One partner's application for one competency."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("team_id", "partner_key", name="uq_applications_team_partner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[str] = mapped_column(String(64))
    # The release of the checklist the application answers (its version, "1.0"): pinned
    # when it starts, changed only by an upgrade.
    checklist_release: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Slack workspace and channel the application is bound to; "" for terminal-only ones.
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    partner_name: Mapped[str] = mapped_column(String(200))
    # Case-folded name, so "Acme" and "acme" are the same partner.
    partner_key: Mapped[str] = mapped_column(String(200))
    delivery_type: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8), default=DEFAULT_LANGUAGE)
    target_audit_date: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    cursor_item: Mapped[str | None] = mapped_column(String(16))
    pending: Mapped[dict | None] = mapped_column(JSON)
    finished: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The PDM channel that gets digests and escalations ("" = the PDM_CHANNEL default).
    pdm_channel_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Reminder lead times in days, overriding the checklist's defaults; None = defaults.
    lead_times: Mapped[list[int] | None] = mapped_column(JSON)
    # Solution-wide documents (D1 for SaaS, D2): a link or a Slack file.
    overall_diagram: Mapped[str] = mapped_column(Text, default="", server_default="")
    overall_diagram_file_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    deployment_guide: Mapped[str] = mapped_column(Text, default="", server_default="")
    deployment_guide_file_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Counts every saved change: an answer read without a lock is written only if this is
    # still the number it read (storage.applications._write_unless_changed).
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Who signs met items off (flows.sign_off); None or empty: sign-off is off.
    reviewers: Mapped[list[str] | None] = mapped_column(JSON)
    require_sign_off: Mapped[bool] = mapped_column(default=False, server_default=false())

    answers: Mapped[list[Answer]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Answer.id"
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("application_id", "item_id", name="uq_answers_application_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(200), default="")
    answered_at: Mapped[datetime | None] = mapped_column()
    assignee: Mapped[str] = mapped_column(String(200), default="")
    # The standing sign-off decision (flows.sign_off): approved / changes_requested, or None.
    review_decision: Mapped[str | None] = mapped_column(String(24))
    reviewed_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The ids of the evidence the decision saw, comma-separated.
    reviewed_evidence: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The answer a release upgrade reopened (the item changed): shown until answered again.
    previous_status: Mapped[str | None] = mapped_column(String(16))

    application: Mapped[Application] = relationship(back_populates="answers")
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="answer", cascade="all, delete-orphan", order_by="Evidence.id"
    )


class Evidence(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    evidence_date: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    added_by: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    snoozed_until: Mapped[datetime | None] = mapped_column()

    answer: Mapped[Answer] = relationship(back_populates="evidence")


class HistoryEntry(Base):
    """Append-only record of every change: who changed what, from what, to what, when."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_application_at", "application_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    item_id: Mapped[str | None] = mapped_column(String(16))
    # Checklist fields, and case-study fields as "case_study:ID:NAME".
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)



class DrillPlanRow(Base):
    """A drill (or dated assessment) planned for an item: when, in which zone, who attends.
    Every plan is a new row; an item's newest one is its plan (flows.drills)."""

    __tablename__ = "drill_plans"
    __table_args__ = (Index("ix_drill_plans_application_item", "application_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[str] = mapped_column(String(5), default="")  # "HH:MM", "" for the whole day
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    attendees: Mapped[list[str]] = mapped_column(JSON, default=list)
    planned_by: Mapped[str] = mapped_column(String(200), default="")
    planned_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedDelivery(Base):
    """Slack deliveries already applied (event ids, action ids): retries are no-ops,
    across every web process sharing the database."""

    __tablename__ = "processed_deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ChannelMember(Base):
    """Who is in an application's channel, synced from Slack and kept current by
    member_joined_channel / member_left_channel, so authorisation needs no API call."""

    __tablename__ = "channel_members"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class ChannelSync(Base):
    __tablename__ = "channel_syncs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingText(Base):
    """What someone typed in a DM before saying which application it is for: kept here,
    so the "which application?" buttons carry a key, not the text (a button value holds
    2,000 characters, and escaped text grows)."""

    __tablename__ = "pending_texts"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemMessage(Base):
    """The Slack message that shows an item, so thread replies know their item."""

    __tablename__ = "item_messages"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(16))


class CaseStudy(Base):
    """One of the four case studies P2.1 asks for, with the fields the seed lists."""

    __tablename__ = "case_studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_website: Mapped[str] = mapped_column(Text, default="")
    challenge: Mapped[str] = mapped_column(Text, default="")
    deployment: Mapped[str] = mapped_column(Text, default="")
    third_party: Mapped[str] = mapped_column(Text, default="")
    production_date: Mapped[date | None] = mapped_column(Date)
    in_production: Mapped[bool | None] = mapped_column()
    outcomes: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    public: Mapped[bool] = mapped_column(default=False)
    public_url: Mapped[str] = mapped_column(Text, default="")
    diagram: Mapped[str] = mapped_column(Text, default="")
    diagram_file_id: Mapped[str] = mapped_column(String(32), default="")
    snoozed_until: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderLog(Base):
    """One row per reminder key (what, which lead time): claimed before sending, so
    that no pass, process or rerun sends the same key twice."""

    __tablename__ = "reminder_log"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(16))
    # claimed → sent, or failed (retried next pass), or skipped (a missed lead time not sent);
    # indexed: every pass looks for the few claimed or failed ones among all ever sent
    status: Mapped[str] = mapped_column(String(16), index=True)
    recipient: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(200), default="")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class ReminderCheck(Base):
    """When a reminder pass next has to look at an application: the earliest moment one of
    its reminders, expiry flips or escalations can fall due and is not yet recorded
    (:func:`flows.reminders.next_checks`). No row: nothing can fall due until the
    application changes. A pass reads only the applications whose moment has come and
    those changed since the last pass (:class:`ReminderFeed`), not everything stored."""

    __tablename__ = "reminder_checks"

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                primary_key=True)
    check_at: Mapped[datetime] = mapped_column(index=True)


class ReminderFeed(Base):
    """How far reminder passes have read the history (one row): every change to what
    reminders depend on writes history, so the applications with history rows after
    ``history_id`` are the ones whose :class:`ReminderCheck` may be out of date. No row:
    no pass has run since the table exists, and the next one looks at everything."""

    __tablename__ = "reminder_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    history_id: Mapped[int]


class SlackUser(Base):
    """A Slack user's time zone, from users.info, so reminders arrive at 09:00 their time."""

    __tablename__ = "slack_users"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="")
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class PdmChannel(Base):
    """A partner-manager channel: its language, time zone and digest schedule."""

    __tablename__ = "pdm_channels"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default=DEFAULT_LANGUAGE)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # cron-style fields for the digest: day of week and hour, local to the channel
    digest_day: Mapped[str] = mapped_column(String(16), default="mon")
    digest_hour: Mapped[int] = mapped_column(default=9)


class DigestLog(Base):
    """One row per digest (channel, period): claimed before posting, so it posts once."""

    __tablename__ = "digest_log"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    ts: Mapped[str] = mapped_column(String(32), default="")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    posted_at: Mapped[datetime | None] = mapped_column()


# slack_sdk's own tables for OAuth installations and state, on the same metadata so
# that Alembic manages them with the rest of the schema.
INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"
SQLAlchemyInstallationStore.build_installations_table(Base.metadata, INSTALLATIONS_TABLE)
SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)
