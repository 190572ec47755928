"""history is append-only on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00

Triggers refuse every UPDATE, DELETE and TRUNCATE of history rows, whoever runs it (the bot, a
console, a cascade from a deleted application), so the history the exports and digests
read is the history that was written. SQLite has no roles and rebuilds tables in batch
migrations (dropping their triggers), so there the rule is the code's alone.
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'history is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
        FOR EACH ROW EXECUTE FUNCTION history_append_only()
    """)
    op.execute("""
        CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
        FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER history_no_truncate ON history")
    op.execute("DROP TRIGGER history_append_only ON history")
    op.execute("DROP FUNCTION history_append_only()")
