"""case studies, reminders, pdm channels and digests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:14:01.074214
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digest_log',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('digest_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_log_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_digest_log_claimed_at'), ['claimed_at'], unique=False)

    op.create_table('pdm_channels',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('digest_day', sa.String(length=16), nullable=False),
    sa.Column('digest_hour', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'channel_id')
    )
    op.create_table('slack_users',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'user_id')
    )
    op.create_table('case_studies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_website', sa.Text(), nullable=False),
    sa.Column('challenge', sa.Text(), nullable=False),
    sa.Column('deployment', sa.Text(), nullable=False),
    sa.Column('third_party', sa.Text(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('in_production', sa.Boolean(), nullable=True),
    sa.Column('outcomes', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('public_url', sa.Text(), nullable=False),
    sa.Column('diagram', sa.Text(), nullable=False),
    sa.Column('diagram_file_id', sa.String(length=32), nullable=False),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_studies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_studies_application_id'), ['application_id'], unique=False)

    op.create_table('reminder_log',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_log_application_id'), ['application_id'], unique=False)

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pdm_channel_id', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('lead_times', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('overall_diagram', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('overall_diagram_file_id', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('deployment_guide', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('deployment_guide_file_id', sa.String(length=32), server_default='', nullable=False))

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('slack_bots', schema=None) as batch_op:
        batch_op.alter_column('bot_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)
        batch_op.alter_column('bot_refresh_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)

    with op.batch_alter_table('slack_installations', schema=None) as batch_op:
        batch_op.alter_column('bot_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)
        batch_op.alter_column('bot_refresh_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)
        batch_op.alter_column('user_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)
        batch_op.alter_column('user_refresh_token',
               existing_type=sa.TEXT(),
               type_=sa.String(length=200),
               existing_nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('slack_installations', schema=None) as batch_op:
        batch_op.alter_column('user_refresh_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)
        batch_op.alter_column('user_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)
        batch_op.alter_column('bot_refresh_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)
        batch_op.alter_column('bot_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)

    with op.batch_alter_table('slack_bots', schema=None) as batch_op:
        batch_op.alter_column('bot_refresh_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)
        batch_op.alter_column('bot_token',
               existing_type=sa.String(length=200),
               type_=sa.TEXT(),
               existing_nullable=True)

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_column('snoozed_until')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('deployment_guide_file_id')
        batch_op.drop_column('deployment_guide')
        batch_op.drop_column('overall_diagram_file_id')
        batch_op.drop_column('overall_diagram')
        batch_op.drop_column('lead_times')
        batch_op.drop_column('pdm_channel_id')

    with op.batch_alter_table('reminder_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_log_application_id'))

    op.drop_table('reminder_log')
    with op.batch_alter_table('case_studies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_studies_application_id'))

    op.drop_table('case_studies')
    op.drop_table('slack_users')
    op.drop_table('pdm_channels')
    with op.batch_alter_table('digest_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_log_claimed_at'))
        batch_op.drop_index(batch_op.f('ix_digest_log_channel_id'))

    op.drop_table('digest_log')
