"""Fixtures for the evidence tests: a fresh instance on its own database, per test.

These tests start child processes and servers that must not share the suite's ``test``
database (tests/conftest.py drops its schema at session start), so each test gets a database
of its own: a file under its temporary directory on SQLite, or a database it creates and
drops on the PostgreSQL server that ``CONSENT_TEST_DATABASE_URL`` names.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.evidence.helpers import Instance, make_instance


def backend() -> str:
    url = os.environ.get("CONSENT_TEST_DATABASE_URL")
    return make_url(url).get_backend_name() if url else "sqlite"


def _admin_connection(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    parsed = make_url(url)
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True, connect_timeout=10)


@contextmanager
def fresh_database() -> Iterator[str | None]:
    """``None`` on SQLite (the instance keeps its file), else the URL of a fresh database."""
    url = os.environ.get("CONSENT_TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() == "sqlite":
        yield None
        return
    try:
        conn = _admin_connection(url)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable under CI=true: {type(exc).__name__}")
        pytest.skip("The configured PostgreSQL test server is unreachable.")
    name = f"consent_ev_{secrets.token_hex(6)}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def evidence_db_url() -> Iterator[str | None]:
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_db_url() -> Iterator[str | None]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def instance(tmp_path: Path, evidence_db_url: str | None) -> Iterator[Instance]:
    inst = make_instance(tmp_path / "data", evidence_db_url)
    try:
        yield inst
    finally:
        inst.service.db.dispose()
