"""sign-off: reviewers per application, a reviewer's decision per answer

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 02:00:00

Applications get their reviewers and whether the audit-day verdict requires sign-off;
answers get the standing decision (approved / changes requested), who made it, when,
why, and the ids of the evidence it saw. The decisions' history is in the history table.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('require_sign_off', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_decision', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reviewed_evidence', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        for column in ('reviewed_evidence', 'review_reason', 'reviewed_at', 'reviewed_by', 'review_decision'):
            batch_op.drop_column(column)
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('require_sign_off')
        batch_op.drop_column('reviewers')
