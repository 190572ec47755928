"""Alembic environment: runs against the engine handed over by ``storage.db``."""

from alembic import context

from storage.db import database_url, make_engine
from storage.models import Base

config = context.config
engine = config.attributes.get("engine") or make_engine(database_url())

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
