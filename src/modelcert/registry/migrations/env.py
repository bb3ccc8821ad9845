"""Alembic environment: runs on the connection `store.migrate` hands over (never reads alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("registry migrations run through modelcert.registry.store.migrate()")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
