"""Building a signed manifest (docs/MANIFEST.md), server side.

:func:`build_manifest` reads everything in the caller's read transaction, at one log size
``N`` taken first: only statements, signatures, key events and the policy activation
logged below ``N`` are used, so rows written by concurrent transactions (even under READ
COMMITTED) never enter a manifest whose checkpoint does not cover them.

The request is refused as a whole, with one fixed message, when the list is empty, too
long, has a duplicate, names an unknown person or anyone not eligible: the refusal says
neither who nor why. Before a manifest is returned it is run through the offline verifier
with the log's own public key, so the service never signs a manifest a receiving
government would reject.

The caller (``ConsentService.manifest``) checks the role and logs
``compiler:list:manifest`` with ``BuiltManifest.sha256`` after building.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from audit import Signer, pae
from audit.storage import LogEntry, LogStore
from consent._canonical import canonical_bytes, sha256_hex
from consent._eligibility import SignatureChecker, decide, key_states
from consent._errors import ConsentError, InvalidInput
from consent._manifest_verify import (
    MANIFEST_PAYLOAD_TYPE,
    MANIFEST_TYPE,
    MAX_MANIFEST_PERSONS,
    ManifestInvalid,
    manifest_keyid,
    verify_manifest,
)
from consent._persons import PersonBook, PersonRecord
from consent._statements import StoredSignature, StoredStatement, all_statements
from consent._tables import PolicyActivation
from consent._tx import rfc3339
from policies import ListContext, Policy, PolicyError, parse_policy

__all__ = ["BuiltManifest", "ManifestRefused", "build_manifest", "context_json"]

_log = logging.getLogger(__name__)
_KEY_TAGS = ("advocate:key:registered", "admin:key:approved", "admin:key:revoked")


class ManifestRefused(InvalidInput):
    """The manifest was refused as a whole; deliberately says neither who nor why."""

    default_message = (f"The manifest was refused: it must list 1 to {MAX_MANIFEST_PERSONS} "
                       "distinct persons, every one of them eligible for this context.")


@dataclass(frozen=True, slots=True)
class BuiltManifest:
    """The manifest file and what the caller logs about it."""

    data: bytes
    """The file: RFC 8785 bytes of the DSSE envelope (no trailing newline)."""
    envelope: dict[str, Any]
    """The same envelope, parsed: ``canonical_bytes(envelope) == data``."""
    sha256: str
    """Hex SHA-256 of ``data``: the ``result_sha256`` of ``compiler:list:manifest``."""
    checkpoint_size: int
    policy_sha256: str


def context_json(context: ListContext) -> dict[str, Any]:
    return {
        "transfer": context.transfer,
        "destination": context.destination,
        "requires_pardon_petition": context.requires_pardon_petition,
        "documents_returned": context.documents_returned,
        "family_may_accompany": context.family_may_accompany,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _checked_ids(person_ids: object) -> list[str]:
    if not isinstance(person_ids, list | tuple) or not 1 <= len(person_ids) <= \
            MAX_MANIFEST_PERSONS:
        raise ManifestRefused()
    if not all(isinstance(p, str) for p in person_ids) or len(set(person_ids)) != len(
            person_ids):
        raise ManifestRefused()
    return list(person_ids)


def _active_policy(session: Session, size: int) -> tuple[Policy, int]:
    row = session.exec(
        select(PolicyActivation)
        .where(col(PolicyActivation.log_index) < size)
        .order_by(col(PolicyActivation.log_index).desc())
        .limit(1)).first()
    if row is None:
        raise ManifestRefused()
    try:
        return parse_policy(bytes(row.document)), row.log_index
    except PolicyError:
        raise ManifestRefused() from None


def _chain(statements: Iterable[StoredStatement], size: int) -> list[StoredStatement]:
    """The person's statements logged below ``size``, oldest first, each link checked."""
    logged = sorted((s for s in statements if s.log_index < size), key=lambda s: s.log_index)
    chain: list[StoredStatement] = []
    previous: str | None = None
    for stored in logged:
        if stored.previous != previous:
            raise ManifestRefused()  # a broken chain in storage: default deny
        chain.append(StoredStatement(
            stored.statement_id, stored.person_id, stored.payload, stored.position,
            stored.stated_on, stored.previous, stored.retracts, stored.log_index,
            stored.recorded_at,
            tuple(s for s in stored.signatures if s.log_index < size)))
        previous = stored.statement_id
    return chain


def _key_events(session: Session, size: int,
                key_ids: set[str]) -> dict[str, dict[str, int]]:
    """For each key: the log index of its first registration, approval and revocation."""
    found: dict[str, dict[str, int]] = {k: {} for k in key_ids}
    rows = session.exec(
        select(col(LogEntry.idx), col(LogEntry.leaf))
        .where(col(LogEntry.tag).in_(_KEY_TAGS), col(LogEntry.idx) < size)
        .order_by(col(LogEntry.idx)))
    for idx, leaf in rows:
        event = json.loads(bytes(leaf))
        key_id = event.get("key_id")
        if key_id in found:
            found[key_id].setdefault(event["tag"], int(idx))
    return found


def _leaves(session: Session, indexes: Sequence[int]) -> dict[int, bytes]:
    leaves: dict[int, bytes] = {}
    for start in range(0, len(indexes), 500):
        chunk = list(indexes[start:start + 500])
        for idx, leaf in session.exec(select(col(LogEntry.idx), col(LogEntry.leaf)).where(
                col(LogEntry.idx).in_(chunk))):
            leaves[int(idx)] = bytes(leaf)
    return leaves


def _statement_json(stored: StoredStatement) -> dict[str, Any]:
    envelope = stored.envelope().to_json()
    return {"envelope": envelope, "recorded": stored.log_index,
            "signature_entries": [s.log_index for s in stored.signatures]}


def _person_json(person: PersonRecord, chain: Sequence[StoredStatement]) -> dict[str, Any]:
    identity = person.identity
    return {
        "person_id": person.id,
        "status": person.status,
        "identity": {
            "full_name": identity.full_name,
            "birth_date": identity.birth_date.isoformat() if identity.birth_date else None,
            "salt": person.salt.hex(),
            "commitment": person.commitment,
        },
        "head": chain[-1].statement_id if chain else None,
        "statements": [_statement_json(s) for s in chain],
    }


def _signatures(chains: Mapping[str, Sequence[StoredStatement]]) -> list[StoredSignature]:
    return [sig for chain in chains.values() for stored in chain for sig in stored.signatures]


def build_manifest(
    session: Session,
    *,
    persons: PersonBook,
    log: LogStore,
    signer: Signer,
    context: ListContext,
    person_ids: Sequence[str],
    as_of: dt.date,
    now: dt.datetime,
) -> BuiltManifest:
    """Build and sign the manifest for ``person_ids``, or refuse with :class:`ManifestRefused`.

    ``session`` is one read transaction; ``signer`` is the log's note signer (its key signs
    both the checkpoint and the manifest); ``now`` is written as ``issued_at``.
    """
    ids = _checked_ids(person_ids)
    size = LogStore.size(session)
    policy, activation = _active_policy(session, size)

    records: list[PersonRecord] = []
    for pid in ids:
        try:
            records.append(persons.get(session, pid))
        except ConsentError:
            raise ManifestRefused() from None
    by_person: dict[str, list[StoredStatement]] = {pid: [] for pid in ids}
    for stored in all_statements(session, ids):
        by_person[stored.person_id].append(stored)
    chains = {pid: _chain(stmts, size) for pid, stmts in by_person.items()}

    # Eligibility from the stored rows first (cheap, and the same code as /lists/eligible);
    # every person is decided before refusing, so the refusal's timing does not say who.
    states = key_states(session)
    checker = SignatureChecker()
    eligible = [decide(session, checker, chains[r.id], r.status, context, policy, as_of,
                       states).eligible for r in records]
    if not all(eligible):
        raise ManifestRefused()

    signatures = _signatures(chains)
    key_events = _key_events(session, size, {s.key_id for s in signatures})
    keys_json = []
    for key_id in sorted(key_events):
        events = key_events[key_id]
        if "advocate:key:registered" not in events or "admin:key:approved" not in events:
            raise ManifestRefused()
        keys_json.append({"key_id": key_id,
                          "registration": events["advocate:key:registered"],
                          "approval": events["admin:key:approved"],
                          "revocation": events.get("admin:key:revoked")})

    wanted = {activation}
    wanted.update(i for events in key_events.values() for i in events.values())
    wanted.update(s.log_index for chain in chains.values() for s in chain)
    wanted.update(s.log_index for s in signatures)
    indexes = sorted(wanted)
    leaves = _leaves(session, indexes)
    if set(leaves) != wanted:
        raise ManifestRefused()
    entries = [{"index": i, "leaf": _b64(leaves[i]),
                "proof": [_b64(h) for h in log.inclusion_proof(session, i, size)]}
               for i in indexes]

    body = {
        "type": MANIFEST_TYPE,
        "issued_at": rfc3339(now),
        "context": context_json(context),
        "as_of": as_of.isoformat(),
        "checkpoint": log.checkpoint(session, size),
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256,
                   "document": _b64(policy.document), "activation": activation},
        "keys": keys_json,
        "persons": [_person_json(r, chains[r.id]) for r in records],
        "entries": entries,
    }
    payload = canonical_bytes(body)
    envelope = {
        "payloadType": MANIFEST_PAYLOAD_TYPE,
        "payload": _b64(payload),
        "signatures": [{
            "keyid": manifest_keyid(signer.verifier.public_key),
            "sig": _b64(signer.sign(pae(MANIFEST_PAYLOAD_TYPE, payload))),
        }],
    }
    data = canonical_bytes(envelope)

    # The last gate: the service signs only what the offline verifier accepts.
    # Its messages carry indexes and pseudonymous ids only, never names: fit for the
    # operator's log, not for the compiler, who learns only the fixed refusal.
    try:
        verify_manifest(data, signer.verifier.vkey).raise_for_failure()
    except ManifestInvalid as exc:
        _log.error("A built manifest failed its own verification: %s", exc.message)
        raise ManifestRefused() from None
    return BuiltManifest(data=data, envelope=envelope, sha256=sha256_hex(data),
                         checkpoint_size=size, policy_sha256=policy.sha256)
