"""Alembic environment: runs on the connection the caller passes (see consent._db.migrate)."""

from __future__ import annotations

from alembic import context

from consent._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through consent._db.migrate().")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
