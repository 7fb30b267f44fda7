"""Database engines and transactions.

Two kinds of transaction: ``read`` and ``write``. A write transaction takes the log lock
first (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE`` on the log head
row), so that writes, and the log appends they carry, are serialised across threads,
processes and hosts and the Merkle tree can never fork. Taking the lock first also rules out
lock-order deadlocks between writers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

__all__ = ["Database", "migrate", "normalise_url", "sqlite_url"]

_MIGRATIONS = Path(__file__).resolve().parent / "_migrations"
_SOURCE_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick the psycopg 3 driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit one is
        # DEFERRED and cannot take the write lock up front).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("consent_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One engine and the two kinds of transaction over it."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = normalise_url(url)
        backend = make_url(self.url).get_backend_name()
        self.backend = backend
        if backend == "sqlite":
            # A small pool: closing SQLite's last connection checkpoints the WAL, which would
            # otherwise happen after every transaction.
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size)
            _configure_sqlite(self.engine)
        elif backend == "postgresql":
            self.engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
        else:
            raise ValueError("Only SQLite and PostgreSQL are supported.")
        self._writer = self.engine.execution_options(consent_write=True)
        # A read sees one snapshot: several queries in one answer never mix two states.
        self._reader = (self.engine.execution_options(isolation_level="REPEATABLE READ",
                                                      postgresql_readonly=True)
                        if backend == "postgresql" else self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A serialised write transaction: all of it commits, or none of it does."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            if self.backend == "postgresql":
                session.execute(text("SELECT size FROM log_head WHERE id = 1 FOR UPDATE"))
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def migrations_path() -> Path:
    return _MIGRATIONS if _MIGRATIONS.is_dir() else _SOURCE_MIGRATIONS


def migrate(db: Database) -> None:
    """Bring the schema to the newest Alembic revision (the same migrations on both backends)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
