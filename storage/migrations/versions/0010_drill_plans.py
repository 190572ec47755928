"""drill plans: when a dated drill or assessment will take place, and who attends

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'drill_plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.String(length=16), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('at', sa.String(length=5), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('attendees', sa.JSON(), nullable=False),
        sa.Column('planned_by', sa.String(length=200), nullable=False),
        sa.Column('planned_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_drill_plans_application_item', 'drill_plans', ['application_id', 'item_id'])


def downgrade() -> None:
    op.drop_index('ix_drill_plans_application_item', table_name='drill_plans')
    op.drop_table('drill_plans')
