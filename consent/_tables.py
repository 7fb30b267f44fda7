"""Database tables. Table models never cross the API: routes use their own models.

Every timestamp is stored as UTC. Identity fields of persons, their salts and TOTP secrets
are ciphertext bound to their table, column and row (see ``_atrest``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

__all__ = [
    "AdvocateKey",
    "AuthSession",
    "Invitation",
    "MfaChallenge",
    "Organisation",
    "Person",
    "PolicyActivation",
    "RecoveryCode",
    "SecurityEvent",
    "Statement",
    "StatementSignature",
    "Throttle",
    "UTCDateTime",
    "User",
    "metadata",
]

metadata = SQLModel.metadata


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def _blob(nullable: bool = False) -> Any:
    return Field(sa_column=Column(LargeBinary, nullable=nullable))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"
    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    created_at: dt.datetime = _ts()


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    organisation_id: str | None = Field(default=None, foreign_key="organisation.id",
                                        max_length=36)
    disabled: bool = False
    password_hash: str | None = Field(default=None, max_length=512)
    totp_secret: bytes | None = _blob(nullable=True)
    totp_last_step: int = Field(default=0, sa_type=BigInteger)
    totp_failures: int = 0
    totp_locked: bool = False
    created_at: dt.datetime = _ts()
    enrolled_at: dt.datetime | None = _ts(nullable=True)


class AdvocateKey(SQLModel, table=True):
    __tablename__ = "advocate_key"
    key_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=36)
    public_key: bytes = _blob()
    registered_at: dt.datetime = _ts()
    approved_at: dt.datetime | None = _ts(nullable=True)
    approved_by: str | None = Field(default=None, max_length=36)
    revoked_at: dt.datetime | None = _ts(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=36)


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: str = Field(primary_key=True, max_length=36)
    identity: bytes = _blob()
    salt: bytes = _blob()
    commitment: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16)
    match_token: str = Field(max_length=64, index=True)
    name_token: str = Field(max_length=64, index=True)
    latest_statement_id: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _ts()
    created_by: str = Field(max_length=36)


class Statement(SQLModel, table=True):
    __tablename__ = "statement"
    __table_args__ = (UniqueConstraint("person_id", "previous", name="uq_statement_chain"),)
    id: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=36)
    payload: bytes = _blob()
    position: str = Field(max_length=16)
    stated_on: dt.date
    previous: str | None = Field(default=None, max_length=64)
    retracts: str | None = Field(default=None, max_length=64)
    log_index: int = Field(sa_type=BigInteger)
    recorded_at: dt.datetime = _ts()
    recorded_by: str = Field(max_length=36)


class StatementSignature(SQLModel, table=True):
    __tablename__ = "statement_signature"
    __table_args__ = (UniqueConstraint("statement_id", "key_id", name="uq_signature_key"),)
    id: int | None = Field(default=None, primary_key=True)
    statement_id: str = Field(foreign_key="statement.id", index=True, max_length=64)
    key_id: str = Field(foreign_key="advocate_key.key_id", max_length=64)
    signer_user_id: str = Field(max_length=36)
    signer_organisation_id: str = Field(max_length=36)
    sig: bytes = _blob()
    log_index: int = Field(sa_type=BigInteger)
    recorded_at: dt.datetime = _ts()


class PolicyActivation(SQLModel, table=True):
    __tablename__ = "policy_activation"
    id: int | None = Field(default=None, primary_key=True)
    policy_id: str = Field(max_length=64)
    version: int
    sha256: str = Field(max_length=64)
    document: bytes = _blob()
    log_index: int = Field(sa_type=BigInteger)
    activated_at: dt.datetime = _ts()
    activated_by: str | None = Field(default=None, max_length=36)


class Invitation(SQLModel, table=True):
    """A single-use enrolment invitation; only the token's hash is stored."""

    __tablename__ = "invitation"
    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=36)
    created_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    used_at: dt.datetime | None = _ts(nullable=True)


class MfaChallenge(SQLModel, table=True):
    """The short-lived token between a correct password and a correct second factor."""

    __tablename__ = "mfa_challenge"
    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=36)
    expires_at: dt.datetime = _ts()
    used_at: dt.datetime | None = _ts(nullable=True)


class AuthSession(SQLModel, table=True):
    """A bearer token (stored hashed), idle and absolute expiry, revocation."""

    __tablename__ = "auth_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=36)
    created_at: dt.datetime = _ts()
    last_seen_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    revoked_at: dt.datetime | None = _ts(nullable=True)


class RecoveryCode(SQLModel, table=True):
    __tablename__ = "recovery_code"
    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=36)
    code_hash: str = Field(max_length=512)
    used_at: dt.datetime | None = _ts(nullable=True)


class Throttle(SQLModel, table=True):
    """Failure counters per account and per client address (the address is hashed)."""

    __tablename__ = "throttle"
    key: str = Field(primary_key=True, max_length=100)
    failures: int = 0
    window_start: dt.datetime = _ts()
    locked_until: dt.datetime | None = _ts(nullable=True)


class SecurityEvent(SQLModel, table=True):
    """Sign-in outcomes and other account events; tags are ``source:subject:action``."""

    __tablename__ = "security_event"
    id: int | None = Field(default=None, primary_key=True)
    tag: str = Field(max_length=64, index=True)
    user_id: str | None = Field(default=None, max_length=36, index=True)
    address_hash: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _ts()


Index("ix_statement_person_stated", Statement.__table__.c.person_id,  # type: ignore[attr-defined]
      Statement.__table__.c.stated_on)  # type: ignore[attr-defined]
