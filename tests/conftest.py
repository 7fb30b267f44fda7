"""Shared fixtures: one database per test session, emptied before every test.

``CONSENT_TEST_DATABASE_URL`` selects the backend (SQLite in a temporary file when unset).
Under ``CI=true`` an unreachable PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from audit import Signer
from consent import Actor, ConsentService, Database, migrate
from consent._atrest import KeyRing
from consent._db import normalise_url
from consent._schema import metadata
from consent._tables import User

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def _reset_schema(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.backend == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            for table in inspect(conn).get_table_names():
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}"'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("CONSENT_TEST_DATABASE_URL")
    if not url:
        return f"sqlite+pysqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and make_url(url).get_backend_name() == "postgresql":
        return _worker_database(url, worker)
    return url


def _worker_database(url: str, worker: str) -> str:
    """Each parallel test worker gets its own PostgreSQL database beside the configured one."""
    import psycopg

    parsed = make_url(normalise_url(url))
    name = f"{parsed.database}_{worker}"
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable under CI=true: {type(exc).__name__}")
        pytest.skip("The configured test database is unreachable.")
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The test database is unreachable under CI=true: {type(exc).__name__}")
        pytest.skip("The configured test database is unreachable.")
    _reset_schema(db)
    migrate(db)
    yield db
    db.dispose()


def empty_tables(db: Database) -> None:
    names = [t.name for t in metadata.sorted_tables]
    with db.engine.begin() as conn:
        if db.backend == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def database(migrated_database: Database) -> Database:
    empty_tables(migrated_database)
    return migrated_database


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC))


def make_service(db: Database, clock: Callable[[], dt.datetime]) -> ConsentService:
    return ConsentService(
        db,
        data_keys=KeyRing([KeyRing.generate_key()]),
        blind_index_key=os.urandom(32),
        log_signer=Signer("consent.test/log", Ed25519PrivateKey.generate()),
        origin="consent.test/log",
        clock=clock,
    )


@pytest.fixture
def service(database: Database, clock: Clock) -> ConsentService:
    svc = make_service(database, clock)
    svc.initialise()
    return svc


@dataclass
class Advocate:
    actor: Actor
    keys: list[Ed25519PrivateKey] = field(default_factory=list)


@dataclass
class World:
    """An instance with an admin, two organisations and three advocates with approved keys."""

    service: ConsentService
    admin: Actor
    compiler: Actor
    auditor: Actor
    alice: Advocate
    bob: Advocate
    carol: Advocate

    def add_user(self, username: str, role: str, organisation_id: str | None) -> Actor:
        user, _token = self.service.invite_user(self.admin, username, role, organisation_id)
        with self.service.transaction() as tx:
            row = tx.session.get(User, user.id)
            assert row is not None
            row.enrolled_at = tx.now
            tx.session.add(row)
        return Actor(user.id, role, organisation_id)  # type: ignore[arg-type]

    def new_key(self, advocate: Advocate, *, approve: bool = True) -> Ed25519PrivateKey:
        from consent import public_key_bytes

        key = Ed25519PrivateKey.generate()
        record = self.service.register_key(advocate.actor, public_key_bytes(key))
        if approve:
            self.service.approve_key(self.admin, record.key_id)
        advocate.keys.append(key)
        return key


@pytest.fixture
def world(service: ConsentService) -> World:
    with service.transaction() as tx:
        admin_row = User(id="00000000-0000-4000-8000-000000000001", username="root-admin",
                         role="admin", created_at=tx.now, enrolled_at=tx.now)
        tx.session.add(admin_row)
    admin = Actor(admin_row.id, "admin")
    org_a = service.create_organisation(admin, "Org A")
    org_b = service.create_organisation(admin, "Org B")
    w = World(service, admin, Actor("", "compiler"), Actor("", "auditor"),
              Advocate(Actor("", "advocate")), Advocate(Actor("", "advocate")),
              Advocate(Actor("", "advocate")))
    w.compiler = w.add_user("compiler1", "compiler", org_a.id)
    w.auditor = w.add_user("auditor1", "auditor", None)
    w.alice = Advocate(w.add_user("alice", "advocate", org_a.id))
    w.bob = Advocate(w.add_user("bob", "advocate", org_b.id))
    w.carol = Advocate(w.add_user("carol", "advocate", org_a.id))
    for adv in (w.alice, w.bob, w.carol):
        w.new_key(adv)
    return w


def vectors_dir(*parts: str) -> Path:
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"conformance vectors not found at {path} (../shared/vectors is absent)")
    return path
