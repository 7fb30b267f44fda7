"""Recording statements and corroborations: verify, store and log in one transaction.

The server verifies and stores; it never signs. A statement is accepted only if every
signature on it verifies against an approved, unrevoked key, and at least one of those keys
belongs to the advocate who submits it (they relayed it). A corroboration is one more
signature, submitted by the owner of the key that made it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from consent._envelope import Envelope, Signature
from consent._errors import (
    DuplicateSignature,
    DuplicateStatement,
    Forbidden,
    InvalidSignature,
    InvalidStatement,
    NotFound,
    StaleChain,
)
from consent._keys import usable_key, verify_ed25519
from consent._statement import StatementPayload, parse_statement_payload
from consent._tables import Person, Statement, StatementSignature
from consent._tx import Actor, Tx

__all__ = ["RecordedSignature", "RecordedStatement", "StoredStatement", "add_signature",
           "record_statement", "statements_of"]


@dataclass(frozen=True, slots=True)
class RecordedStatement:
    statement_id: str
    log_index: int


@dataclass(frozen=True, slots=True)
class RecordedSignature:
    statement_id: str
    log_index: int


@dataclass(frozen=True, slots=True)
class StoredSignature:
    key_id: str
    signer_user_id: str
    signer_organisation_id: str
    sig: bytes
    log_index: int
    recorded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredStatement:
    statement_id: str
    person_id: str
    payload: bytes
    position: str
    stated_on: dt.date
    previous: str | None
    retracts: str | None
    log_index: int
    recorded_at: dt.datetime
    signatures: tuple[StoredSignature, ...]

    def envelope(self) -> Envelope:
        from consent._envelope import STATEMENT_PAYLOAD_TYPE

        return Envelope(STATEMENT_PAYLOAD_TYPE, self.payload,
                        tuple(Signature(s.key_id, s.sig) for s in self.signatures))


def _verify_signature(session: Session, envelope_pae: bytes, signature: Signature) -> tuple[
        str, str]:
    key, owner = usable_key(session, signature.keyid)
    if not verify_ed25519(bytes(key.public_key), signature.sig, envelope_pae):
        raise InvalidSignature()
    assert owner.organisation_id is not None
    return owner.id, owner.organisation_id


def _check_retraction(session: Session, payload: StatementPayload) -> None:
    if payload.retracts is None:
        return
    target = session.get(Statement, payload.retracts)
    if target is None or target.person_id != payload.person_id:
        raise InvalidStatement("unknown_retracted", "'retracts' does not name a statement of "
                               "this person.")
    if target.position == "retracts":
        raise InvalidStatement("retracts_retraction", "A retraction cannot be retracted; "
                               "record a new statement instead.")


def record_statement(tx: Tx, actor: Actor, envelope: Envelope) -> RecordedStatement:
    payload = parse_statement_payload(envelope.payload, today=tx.now.date())
    session = tx.session
    if session.get(Statement, payload.statement_id) is not None:
        raise DuplicateStatement()
    person = session.get(Person, payload.person_id)
    if person is None or person.commitment != payload.commitment:
        raise InvalidStatement("unknown_person", "The statement's person id and commitment do "
                               "not match a registered person.")
    if person.latest_statement_id != payload.previous:
        raise StaleChain()
    _check_retraction(session, payload)
    message = envelope.pae()
    signers = [_verify_signature(session, message, s) for s in envelope.signatures]
    if actor.user_id not in {user_id for user_id, _org in signers}:
        raise Forbidden("The submitting advocate must be one of the statement's signers.")
    # Compare-and-set on the chain head: of two concurrent statements naming the same
    # `previous`, exactly one wins.
    moved = session.execute(
        update(Person)
        .where(col(Person.id) == person.id,
               col(Person.latest_statement_id).is_(None) if payload.previous is None
               else col(Person.latest_statement_id) == payload.previous)
        .values(latest_statement_id=payload.statement_id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleChain()
    index = tx.log("advocate:statement:recorded", actor, statement_id=payload.statement_id,
                   person_id=payload.person_id, envelope=envelope.to_json())
    session.add(Statement(
        id=payload.statement_id, person_id=payload.person_id, payload=envelope.payload,
        position=payload.position, stated_on=payload.stated_on, previous=payload.previous,
        retracts=payload.retracts, log_index=index, recorded_at=tx.now,
        recorded_by=actor.user_id,
    ))
    session.flush()
    for signature, (user_id, org_id) in zip(envelope.signatures, signers, strict=True):
        session.add(StatementSignature(
            statement_id=payload.statement_id, key_id=signature.keyid, signer_user_id=user_id,
            signer_organisation_id=org_id, sig=signature.sig, log_index=index,
            recorded_at=tx.now))
    session.flush()
    return RecordedStatement(payload.statement_id, index)


def add_signature(tx: Tx, actor: Actor, statement_id: str,
                  signature: Signature) -> RecordedSignature:
    session = tx.session
    row = session.get(Statement, statement_id)
    if row is None:
        raise NotFound()
    existing = session.execute(select(col(StatementSignature.id)).where(
        col(StatementSignature.statement_id) == statement_id,
        col(StatementSignature.key_id) == signature.keyid)).first()
    if existing is not None:
        raise DuplicateSignature()
    stored = _load(session, [row])[0]
    user_id, org_id = _verify_signature(session, stored.envelope().pae(), signature)
    if user_id != actor.user_id:
        raise Forbidden("Only the owner of a key may submit its signature.")
    index = tx.log("advocate:statement:corroborated", actor, statement_id=statement_id,
                   person_id=row.person_id, signature=signature.to_json())
    session.add(StatementSignature(
        statement_id=statement_id, key_id=signature.keyid, signer_user_id=user_id,
        signer_organisation_id=org_id, sig=signature.sig, log_index=index, recorded_at=tx.now))
    session.flush()
    return RecordedSignature(statement_id, index)


_STATEMENT_COLUMNS = (col(Statement.id), col(Statement.person_id), col(Statement.payload),
                      col(Statement.position), col(Statement.stated_on),
                      col(Statement.previous), col(Statement.retracts),
                      col(Statement.log_index), col(Statement.recorded_at))


def _load(session: Session, rows: Sequence[Any], *,
          every: bool = False) -> list[StoredStatement]:
    ids = [r.id for r in rows]
    sigs: dict[str, list[StoredSignature]] = {i: [] for i in ids}
    # Plain column rows, not ORM objects: an eligible list loads every signature.
    query = select(col(StatementSignature.statement_id), col(StatementSignature.key_id),
                   col(StatementSignature.signer_user_id),
                   col(StatementSignature.signer_organisation_id), col(StatementSignature.sig),
                   col(StatementSignature.log_index), col(StatementSignature.recorded_at)
                   ).order_by(col(StatementSignature.log_index), col(StatementSignature.id))
    chunks = [None] if every else [ids[i:i + 500] for i in range(0, len(ids), 500)]
    for chunk in chunks:
        bounded = query if chunk is None else query.where(
            col(StatementSignature.statement_id).in_(chunk))
        for s in session.execute(bounded):
            if s.statement_id in sigs:
                sigs[s.statement_id].append(StoredSignature(
                    s.key_id, s.signer_user_id, s.signer_organisation_id, bytes(s.sig),
                    s.log_index, s.recorded_at))
    return [StoredStatement(r.id, r.person_id, bytes(r.payload), r.position, r.stated_on,
                            r.previous, r.retracts, r.log_index, r.recorded_at,
                            tuple(sigs[r.id])) for r in rows]


def statements_of(session: Session, person_id: str) -> list[StoredStatement]:
    rows = list(session.execute(select(Statement).where(col(Statement.person_id) == person_id)
                                .order_by(col(Statement.log_index))).scalars())
    return _load(session, rows)


def all_statements(session: Session,
                   person_ids: list[str] | None = None) -> list[StoredStatement]:
    """Every statement (or those of ``person_ids``) with signatures, in few queries."""
    if person_ids is None:
        rows = list(session.execute(select(*_STATEMENT_COLUMNS)
                                    .order_by(col(Statement.log_index))))
        return _load(session, rows, every=True)
    rows = []
    for i in range(0, len(person_ids), 500):
        rows.extend(session.execute(select(Statement).where(
            col(Statement.person_id).in_(person_ids[i:i + 500]))
            .order_by(col(Statement.log_index))).scalars())
    return _load(session, rows)
