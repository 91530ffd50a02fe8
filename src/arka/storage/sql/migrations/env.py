"""Alembic environment: the connection is handed in by arka.storage.Store.migrate."""

from alembic import context

from arka.storage.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
