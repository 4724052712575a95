"""Alembic's environment, run by feedback.migrate.upgrade (there is no alembic.ini): migrations run
on the connection it hands over, in one transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from feedback.models import Base

# Any key will do, as long as every upgrader takes the same one: gateways on several hosts may
# upgrade one PostgreSQL database at once, and this lock makes them take turns.
ADVISORY_LOCK = 0x62647266  # "bdrf"

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")  # SQLite alters tables by copying them
with context.begin_transaction():
    context.run_migrations()
