"""reminder checks: each application's next moment a reminder can fall due, indexed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 01:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reminder_checks',
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('check_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('application_id'),
    )
    op.create_index(op.f('ix_reminder_checks_check_at'), 'reminder_checks', ['check_at'], unique=False)
    # No row yet: the first pass after this migration looks at every application and fills
    # reminder_checks (storage.reminders.pass_scope).
    op.create_table(
        'reminder_feed',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('history_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_reminder_log_status'), 'reminder_log', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_reminder_log_status'), table_name='reminder_log')
    op.drop_table('reminder_feed')
    op.drop_index(op.f('ix_reminder_checks_check_at'), table_name='reminder_checks')
    op.drop_table('reminder_checks')
