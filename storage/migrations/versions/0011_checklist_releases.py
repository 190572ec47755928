"""checklist releases: each application is pinned to the release of its checklist it answers

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Until releases were named, every application answered the one checklist the product
# shipped: the retail checklist's release 1.0 (December 2019).
FIRST_RELEASE = {'aws-retail-competency': '1.0'}


def upgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('checklist_release', sa.String(length=32), nullable=False, server_default=''))
    with op.batch_alter_table('answers') as batch:
        # The answer an upgrade reopened, shown until the item is answered again.
        batch.add_column(sa.Column('previous_status', sa.String(length=16), nullable=True))
    applications = sa.table('applications', sa.column('checklist_id', sa.String), sa.column('checklist_release', sa.String))
    for checklist_id, release in FIRST_RELEASE.items():
        op.execute(applications.update().where(applications.c.checklist_id == checklist_id)
                   .values(checklist_release=release))


def downgrade() -> None:
    with op.batch_alter_table('answers') as batch:
        batch.drop_column('previous_status')
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('checklist_release')
