"""Advocate keys: registration by the owner, approval and revocation by an admin.

The server stores public keys only. A key id is the hex SHA-256 of the raw 32-byte key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlmodel import Session, col

from consent._ed25519 import key_id_of, verify_ed25519
from consent._envelope import b64encode
from consent._errors import Conflict, InvalidPublicKey, KeyNotUsable, NotFound
from consent._tables import AdvocateKey, User
from consent._tx import Actor, Tx

__all__ = ["KeyRecord", "key_id_of", "verify_ed25519"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    user_id: str
    public_key: bytes
    registered_at: dt.datetime
    approved_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "approved" if self.approved_at is not None else "pending"


def _record(row: AdvocateKey) -> KeyRecord:
    return KeyRecord(row.key_id, row.user_id, bytes(row.public_key), row.registered_at,
                     row.approved_at, row.revoked_at)


def register_key(tx: Tx, actor: Actor, public_key: bytes) -> KeyRecord:
    if len(public_key) != 32:
        raise InvalidPublicKey()
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise InvalidPublicKey() from exc
    key_id = key_id_of(public_key)
    if tx.session.get(AdvocateKey, key_id) is not None:
        raise Conflict("This key is already registered.")
    user = tx.session.get(User, actor.user_id)
    if user is None or user.organisation_id is None:
        raise NotFound()
    row = AdvocateKey(key_id=key_id, user_id=actor.user_id, public_key=public_key,
                      registered_at=tx.now)
    tx.session.add(row)
    tx.session.flush()
    tx.log("advocate:key:registered", actor, key_id=key_id, public_key=b64encode(public_key),
           user_id=actor.user_id, organisation_id=user.organisation_id)
    return _record(row)


def _get(session: Session, key_id: str) -> AdvocateKey:
    row = session.get(AdvocateKey, key_id)
    if row is None:
        raise NotFound()
    return row


def approve_key(tx: Tx, actor: Actor, key_id: str) -> KeyRecord:
    row = _get(tx.session, key_id)
    if row.revoked_at is not None:
        raise Conflict("A revoked key cannot be approved again.")
    if row.approved_at is not None:
        raise Conflict("This key is already approved.")
    row.approved_at, row.approved_by = tx.now, actor.user_id
    tx.session.add(row)
    tx.session.flush()
    tx.log("admin:key:approved", actor, key_id=key_id)
    return _record(row)


def revoke_key(tx: Tx, actor: Actor, key_id: str) -> KeyRecord:
    row = _get(tx.session, key_id)
    if row.revoked_at is not None:
        raise Conflict("This key is already revoked.")
    row.revoked_at, row.revoked_by = tx.now, actor.user_id
    tx.session.add(row)
    tx.session.flush()
    tx.log("admin:key:revoked", actor, key_id=key_id)
    return _record(row)


def usable_key(session: Session, key_id: str) -> tuple[AdvocateKey, User]:
    """The key and its owner, if it may sign now: approved, not revoked, owner enabled."""
    row = session.get(AdvocateKey, key_id)
    if row is None or row.approved_at is None or row.revoked_at is not None:
        raise KeyNotUsable()
    owner = session.get(User, row.user_id)
    if owner is None or owner.disabled or owner.role != "advocate" or not owner.organisation_id:
        raise KeyNotUsable()
    return row, owner


def keys_of(session: Session, user_id: str | None = None) -> list[KeyRecord]:
    query = select(AdvocateKey).order_by(col(AdvocateKey.registered_at))
    if user_id is not None:
        query = query.where(col(AdvocateKey.user_id) == user_id)
    return [_record(r) for r in session.execute(query).scalars()]
