"""partner keys recomputed by the rule that folds fullwidth, zero-width and case forms

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 23:45:00

Applications stored before the rule changed keep the key of the old rule (case and spaces
only), so "Ａｃｍｅ" stored then would not be found as "Acme" now. Each key is computed
again with the rule the bot uses (flows.application.partner_key). Where two applications
of one workspace now share a key, both keep their old keys: merging partners is a person's
decision, and the bot still finds each by its own name.
"""

from collections import Counter

import sqlalchemy as sa
from alembic import op

from flows.application import partner_key

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

APPLICATIONS = sa.table('applications', sa.column('id', sa.Integer), sa.column('team_id', sa.String),
                        sa.column('partner_name', sa.String), sa.column('partner_key', sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(APPLICATIONS.c.id, APPLICATIONS.c.team_id, APPLICATIONS.c.partner_name,
                                        APPLICATIONS.c.partner_key)).all()
    new_keys = {row.id: partner_key(row.partner_name) for row in rows}
    shared = Counter((row.team_id, new_keys[row.id]) for row in rows)
    for row in rows:
        if new_keys[row.id] != row.partner_key and shared[(row.team_id, new_keys[row.id])] == 1:
            connection.execute(sa.update(APPLICATIONS).where(APPLICATIONS.c.id == row.id)
                               .values(partner_key=new_keys[row.id]))


def downgrade() -> None:
    """The new keys find every application the old ones did: nothing to undo."""
