"""An instance for the benchmarks: users, approved keys, accounts signed in over HTTP, and a
bulk loader for the large eligibility data set."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

import audit
from audit.storage import LogEntry, LogHead, LogNode
from bench._populate import SCOPE_DE, SCOPE_WIDE, person_name
from consent import (
    Actor,
    ConsentService,
    canonical_bytes,
    init_instance,
    public_key_bytes,
    sign_envelope,
)
from consent._persons import parse_identity
from consent._statement import STATEMENT_TYPE
from consent._tables import Person, Statement, StatementSignature, User
from consent._tx import rfc3339

PASSWORD = "benchmark passphrase, long enough and not a common one"


@dataclass
class BenchInstance:
    data_dir: Path
    service: ConsentService
    admin: Actor
    alice: Actor
    bob: Actor
    compiler: Actor
    alice_key: Ed25519PrivateKey
    bob_key: Ed25519PrivateKey
    invitations: dict[str, str] = field(default_factory=dict)


def create(data_dir: Path, database_url: str | None) -> BenchInstance:
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_DATABASE_URL"}
    service, admin_token = init_instance(data_dir, database_url=database_url, env=env)
    invitations = {"admin": admin_token}
    with service.reading() as session:
        admin = Actor(session.execute(select(User.id).where(User.role == "admin")).scalar_one(),
                      "admin")
    org_a = service.create_organisation(admin, "Bench A").id
    org_b = service.create_organisation(admin, "Bench B").id

    def user(name: str, role: str, org: str) -> Actor:
        record, invitations[name] = service.invite_user(admin, name, role, org)
        return Actor(record.id, role, org)  # type: ignore[arg-type]

    alice, bob = user("alice", "advocate", org_a), user("bob", "advocate", org_b)
    compiler = user("compiler", "compiler", org_a)
    keys = []
    for actor in (alice, bob):
        key = Ed25519PrivateKey.generate()
        service.approve_key(admin, service.register_key(actor, public_key_bytes(key)).key_id)
        keys.append(key)
    return BenchInstance(data_dir, service, admin, alice, bob, compiler, keys[0], keys[1],
                         invitations)


def enrol_and_sign_in(url: str, username: str, invitation: str) -> str:
    """The real flow: invitation, password, TOTP; then a sign-in with a recovery code (the
    TOTP step just spent cannot be used twice). Returns a bearer token."""
    from api import code_at, step_at

    with httpx.Client(base_url=url, timeout=60) as http:
        started = http.post("/v1/auth/enroll", json={"invitation": invitation,
                                                     "password": PASSWORD})
        started.raise_for_status()
        secret = started.json()["secret"]
        confirmed = http.post("/v1/auth/enroll/confirm", json={
            "invitation": invitation, "code": code_at(secret, step_at(dt.datetime.now(dt.UTC)))})
        confirmed.raise_for_status()
        first = http.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
        first.raise_for_status()
        second = http.post("/v1/auth/totp", json={
            "mfa_token": first.json()["mfa_token"],
            "recovery_code": confirmed.json()["recovery_codes"][0]})
        second.raise_for_status()
        return str(second.json()["access_token"])


def _payload(person_id: str, commitment: str, position: str, stated_on: dt.date,
             previous: str | None, scope: dict[str, Any] | None) -> bytes:
    body: dict[str, Any] = {
        "type": STATEMENT_TYPE, "person": {"id": person_id, "commitment": commitment},
        "position": position, "stated_on": stated_on.isoformat(), "channel": "lawyer_visit",
        "evidence": [], "duress_concern": False, "previous": previous}
    if scope is not None:
        body["scope"] = scope
    return canonical_bytes(body)


def chains(inst: BenchInstance, persons: int, per_person: int) -> list[list[dict[str, Any]]]:
    """Register ``persons`` persons (through the service) and sign, client-side, a chain of
    ``per_person`` statements for each: request bodies for POST /v1/statements, per person,
    in chain order."""
    today = inst.service.today()
    out = []
    for n in range(persons):
        record = inst.service.register_person(inst.alice, full_name=person_name(900_000 + n))
        previous, bodies = None, []
        for k in range(per_person):
            position = "consents" if k % 2 == 0 else "refuses"
            payload = _payload(record.id, record.commitment, position, today, previous,
                               SCOPE_WIDE if position == "consents" else None)
            envelope = sign_envelope(payload, inst.alice_key)
            previous = envelope.statement_id
            bodies.append(envelope.to_json())
        out.append(bodies)
    return out


def bulk_load(inst: BenchInstance, *, persons: int, statements: int, seed: int = 11,
              progress: Callable[[str], None] | None = None) -> int:
    """Persons and signed statements written straight into the tables, with the matching
    log entries and Merkle nodes, in a few large transactions: the state the service would
    be in after recording them one by one (which takes far longer), built quickly.

    Every statement is really signed (by alice, consents also by bob), so the service's
    re-verification before listing anyone does its full work. Returns the number eligible
    for an exchange to DE, by construction."""
    rng = random.Random(seed)
    service = inst.service
    today = service.today()
    now = service.clock()
    stamp = rfc3339(now)
    per = [statements // persons + (1 if i < statements % persons else 0) for i in range(persons)]
    person_rows: list[dict[str, Any]] = []
    statement_rows: list[dict[str, Any]] = []
    signature_rows: list[dict[str, Any]] = []
    events: list[tuple[bytes, str]] = []
    keys = {"alice": inst.alice_key, "bob": inst.bob_key}
    key_ids = {name: audit_key_id(k) for name, k in keys.items()}
    users = {"alice": inst.alice, "bob": inst.bob}
    eligible = 0
    started = time.perf_counter()
    for n in range(persons):
        identity = parse_identity(person_name(n), "1970-01-01", (), None, today=today)
        row = service.persons._new_row(identity, "imprisoned", inst.alice, now)
        person_rows.append({c.name: getattr(row, c.name) for c in Person.__table__.columns})
        events.append((canonical_bytes({
            "tag": "advocate:person:registered", "time": stamp, "actor": inst.alice.user_id,
            "person_id": row.id, "commitment": row.commitment}), "advocate:person:registered"))
        previous = None
        for k in range(per[n]):
            last = k == per[n] - 1
            roll = rng.random()
            if last:
                position, signers = (("consents", ("alice", "bob")) if roll < 0.5 else
                                     ("consents", ("alice",)) if roll < 0.6 else
                                     ("refuses", ("alice",)))
            else:
                position, signers = rng.choice([("refuses", ("alice",)),
                                                ("withdraws", ("alice",)),
                                                ("consents", ("alice", "bob"))])
            scope = (SCOPE_WIDE if rng.random() < 0.7 else SCOPE_DE) \
                if position == "consents" else None
            stated_on = today - dt.timedelta(days=170 - 160 * (k + 1) // per[n])
            payload = _payload(row.id, row.commitment, position, stated_on, previous, scope)
            envelope = sign_envelope(payload, *(keys[s] for s in signers))
            sid = envelope.statement_id
            index_placeholder = len(events)
            events.append((canonical_bytes({
                "tag": "advocate:statement:recorded", "time": stamp,
                "actor": inst.alice.user_id, "statement_id": sid, "person_id": row.id,
                "envelope": envelope.to_json()}), "advocate:statement:recorded"))
            statement_rows.append({
                "id": sid, "person_id": row.id, "payload": payload, "position": position,
                "stated_on": stated_on, "previous": previous, "retracts": None,
                "log_index": index_placeholder, "recorded_at": now,
                "recorded_by": inst.alice.user_id})
            for s, signature in zip(signers, envelope.signatures, strict=True):
                signature_rows.append({
                    "statement_id": sid, "key_id": key_ids[s],
                    "signer_user_id": users[s].user_id,
                    "signer_organisation_id": users[s].organisation_id, "sig": signature.sig,
                    "log_index": index_placeholder, "recorded_at": now})
            previous = sid
            if last and position == "consents" and len(signers) == 2:
                eligible += 1
        person_rows[-1]["latest_statement_id"] = previous
        if progress is not None and n % 5000 == 4999:
            progress(f"  signed {n + 1}/{persons} persons' statements "
                     f"({time.perf_counter() - started:.0f} s)")
    with service.db.write() as session:
        base = int(session.execute(select(LogHead.size)).scalar_one())
        old = [bytes(x) for x in session.execute(
            select(LogEntry.leaf).order_by(LogEntry.idx)).scalars()]
        for r in statement_rows:
            r["log_index"] += base
        for r in signature_rows:
            r["log_index"] += base
        for start in range(0, len(person_rows), 5000):
            session.execute(insert(Person), person_rows[start:start + 5000])
        for start in range(0, len(statement_rows), 5000):
            session.execute(insert(Statement), statement_rows[start:start + 5000])
        for start in range(0, len(signature_rows), 5000):
            session.execute(insert(StatementSignature), signature_rows[start:start + 5000])
        entries = [{"idx": base + i, "leaf": leaf, "tag": tag}
                   for i, (leaf, tag) in enumerate(events)]
        for start in range(0, len(entries), 5000):
            session.execute(insert(LogEntry), entries[start:start + 5000])
        leaves = old + [leaf for leaf, _tag in events]
        hashes = [audit.leaf_hash(x) for x in leaves]
        session.execute(delete(LogNode))
        nodes: list[dict[str, Any]] = []
        level, current = 0, hashes
        while current:
            nodes.extend({"level": level, "idx": i, "hash": h} for i, h in enumerate(current))
            current = [audit.node_hash(current[i], current[i + 1])
                       for i in range(0, len(current) - 1, 2)]
            level += 1
        for start in range(0, len(nodes), 5000):
            session.execute(insert(LogNode), nodes[start:start + 5000])
        session.execute(update(LogHead).where(LogHead.id == 1).values(size=len(leaves)))
    return eligible


def audit_key_id(key: Ed25519PrivateKey) -> str:
    import hashlib

    return hashlib.sha256(public_key_bytes(key)).hexdigest()


