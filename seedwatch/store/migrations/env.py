"""Alembic environment: migrations run on the engine the store hands over."""

from __future__ import annotations

from alembic import context

import seedwatch.alerting  # noqa: F401 - registers the alert ledger on the metadata
from seedwatch.store.schema import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    if engine.dialect.name == "postgresql":
        # Several workers may start at once: one migrates, the others wait for it.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(424242)")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
