"""Shared pieces of the evidence tests: an instance with users and keys, and a store audit.

:func:`audit_store` is the "nothing is half-written" check: it reads every table that a write
touches and every log entry, and requires that they tell one story (each row has its log
entry and each entry its rows, the Merkle nodes are exactly those of the leaves, the chains
of statements do not fork), then verifies the whole log offline with the audit package's
verifier, as an outside auditor would.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from sqlalchemy import func, select

import audit
from audit.storage import LogEntry, LogHead, LogNode
from consent import Actor, ConsentService, init_instance, public_key_bytes
from consent._tables import Person, Statement, StatementSignature, User


@dataclass
class Instance:
    data_dir: Path
    service: ConsentService
    admin: Actor
    alice: Actor
    bob: Actor
    compiler: Actor
    auditor: Actor
    alice_key: Ed25519PrivateKey
    bob_key: Ed25519PrivateKey
    env: dict[str, str] = field(default_factory=dict)
    #: username -> single-use enrolment invitation (for enrolling over HTTP)
    invitations: dict[str, str] = field(default_factory=dict)
    #: More advocates: carol (Org A, approved key), dave (Org B, key never approved); and
    #: a second approved key of alice's (two keys of one advocate count as one voice).
    carol: Actor | None = None
    dave: Actor | None = None
    carol_key: Ed25519PrivateKey | None = None
    dave_key: Ed25519PrivateKey | None = None
    alice_key2: Ed25519PrivateKey | None = None

    def write_actors(self, folder: Path) -> Path:
        """Actors and PEM keys in files, for a child process to load."""
        folder.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {}
        for name in ("admin", "alice", "bob", "compiler", "auditor"):
            actor: Actor = getattr(self, name)
            data[name] = {"user_id": actor.user_id, "role": actor.role,
                          "organisation_id": actor.organisation_id}
        for name, key in (("alice", self.alice_key), ("bob", self.bob_key)):
            path = folder / f"{name}.pem"
            path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                               NoEncryption()))
            data[name]["key"] = str(path)
        path = folder / "actors.json"
        path.write_text(json.dumps(data))
        return path


def clean_env() -> dict[str, str]:
    """The environment without a database override: the instance's own config decides."""
    return {k: v for k, v in os.environ.items() if k != "CONSENT_DATABASE_URL"}


def make_instance(data_dir: Path, database_url: str | None) -> Instance:
    env = clean_env()
    service, admin_token = init_instance(data_dir, database_url=database_url, env=env)
    invitations = {"admin": admin_token}
    with service.reading() as session:
        admin_id = session.execute(select(User.id).where(User.role == "admin")).scalar_one()
    admin = Actor(admin_id, "admin")
    org_a = service.create_organisation(admin, "Org A")
    org_b = service.create_organisation(admin, "Org B")

    def user(name: str, role: str, org: str | None) -> Actor:
        record, invitations[name] = service.invite_user(admin, name, role, org)
        return Actor(record.id, role, org)  # type: ignore[arg-type]

    alice = user("alice", "advocate", org_a.id)
    bob = user("bob", "advocate", org_b.id)
    compiler = user("compiler", "compiler", org_a.id)
    auditor = user("auditor", "auditor", None)
    carol = user("carol", "advocate", org_a.id)
    dave = user("dave", "advocate", org_b.id)
    keys = []
    for actor, approve in ((alice, True), (bob, True), (carol, True), (dave, False),
                           (alice, True)):
        key = Ed25519PrivateKey.generate()
        record = service.register_key(actor, public_key_bytes(key))
        if approve:
            service.approve_key(admin, record.key_id)
        keys.append(key)
    return Instance(data_dir, service, admin, alice, bob, compiler, auditor, keys[0], keys[1],
                    env, invitations, carol, dave, keys[2], keys[3], keys[4])


def all_entries(service: ConsentService, auditor: Actor, size: int) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, size, 1000):
        out.extend(service.entries(auditor, start, min(size, start + 1000)))
    return out


@dataclass
class StoreAudit:
    checkpoint: str
    size: int
    entries: list[bytes]
    events: list[dict[str, Any]]
    statements: dict[str, int]  # statement id -> log index


def audit_store(service: ConsentService, auditor: Actor) -> StoreAudit:
    """Check that every table and the log agree; raise AssertionError naming what does not."""
    with service.reading() as session:
        size = session.execute(
            select(LogHead.size).where(LogHead.id == 1)).scalar_one()
        rows = session.execute(select(LogEntry.idx, LogEntry.leaf).order_by(LogEntry.idx)).all()
        nodes = session.execute(select(LogNode.level, LogNode.idx, LogNode.hash)).all()
        persons = session.execute(select(Person.id, Person.commitment,
                                         Person.latest_statement_id)).all()
        statements = session.execute(select(
            Statement.id, Statement.person_id, Statement.payload, Statement.previous,
            Statement.log_index)).all()
        signatures = session.execute(select(
            StatementSignature.statement_id, StatementSignature.key_id, StatementSignature.sig,
            StatementSignature.log_index)).all()
        n_users = session.execute(select(func.count()).select_from(User)).scalar_one()

    # The log: a contiguous run of entries, exactly the head's size, and exactly its nodes.
    assert [r[0] for r in rows] == list(range(size)), "log entries are not 0..size-1"
    leaves = [bytes(r[1]) for r in rows]
    tree = audit.InMemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    expected_nodes = sum(size >> level for level in range(max(size, 1).bit_length() + 1))
    assert len(nodes) == expected_nodes, (
        f"{len(nodes)} Merkle nodes stored for {size} leaves, {expected_nodes} expected")
    for level, idx, digest in nodes:
        assert (idx + 1) << level <= size, f"node ({level}, {idx}) lies beyond the head"
        assert bytes(digest) == tree.node(level, idx), f"node ({level}, {idx}) is wrong"

    with service.reading() as session:
        checkpoint = service.log.checkpoint(session, size)
    events = [json.loads(leaf) for leaf in leaves]
    by_tag: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, event in enumerate(events):
        by_tag.setdefault(event["tag"], []).append((i, event))

    # Persons: one registration entry per row, and no row without one.
    registered = {e["person_id"]: e["commitment"]
                  for _i, e in by_tag.get("advocate:person:registered", [])}
    assert registered == {p[0]: p[1] for p in persons}, "persons and their log entries differ"
    assert len(by_tag.get("admin:user:invited", [])) == n_users, "users and log entries differ"

    # Statements: each row has its entry (same envelope), and each entry its row.
    recorded = {e["statement_id"]: (i, e) for i, e in
                by_tag.get("advocate:statement:recorded", [])}
    assert set(recorded) == {s[0] for s in statements}, "statements and log entries differ"
    sig_rows: dict[tuple[str, str], tuple[bytes, int]] = {
        (s[0], s[1]): (bytes(s[2]), s[3]) for s in signatures}
    assert len(sig_rows) == len(signatures), "a key signed one statement twice"
    expected_sigs: dict[tuple[str, str], tuple[bytes, int]] = {}
    for sid, person_id, payload, _previous, log_index in statements:
        index, event = recorded[sid]
        assert index == log_index, f"statement {sid} names index {log_index}, log has {index}"
        assert event["person_id"] == person_id
        envelope = event["envelope"]
        assert base64.b64decode(envelope["payload"]) == bytes(payload), f"{sid} payload differs"
        for sig in envelope["signatures"]:
            expected_sigs[(sid, sig["keyid"])] = (base64.b64decode(sig["sig"]), index)
    for i, event in by_tag.get("advocate:statement:corroborated", []):
        sig = event["signature"]
        key = (event["statement_id"], sig["keyid"])
        assert key not in expected_sigs, f"entry {i} corroborates with a key already counted"
        expected_sigs[key] = (base64.b64decode(sig["sig"]), i)
    assert sig_rows == expected_sigs, "signature rows and log entries differ"

    # Chains: each person's statements form one unforked chain ending at the latest.
    by_person: dict[str, dict[str | None, str]] = {}
    for sid, person_id, _payload, previous, _index in statements:
        chain = by_person.setdefault(person_id, {})
        assert previous not in chain, f"the chain of {person_id} forks at {previous}"
        chain[previous] = sid
    for person_id, _commitment, latest in persons:
        chain = by_person.get(person_id, {})
        walked, at = 0, None
        while at in chain:
            at = chain[at]
            walked += 1
        assert at == latest and walked == len(chain), f"the chain of {person_id} is broken"

    # And the whole log verifies offline, as an auditor would check it.
    verifier = audit.Verifier.from_vkey(service.vkey())
    audit.verify_log(checkpoint, leaves, verifier, strict=True)
    return StoreAudit(checkpoint, size, leaves, events,
                      {sid: i for sid, (i, _e) in recorded.items()})


class Snapshot:
    """A copy of an instance's database, to start each state-machine run from the same state.

    SQLite: the online backup API (WAL-safe) into a side file, and back. PostgreSQL: a
    template database, and ``DROP ... WITH (FORCE)`` plus ``CREATE ... TEMPLATE`` to go back.
    """

    def __init__(self, service: ConsentService) -> None:
        from sqlalchemy.engine import make_url

        self.service = service
        self.url = make_url(service.db.url)
        service.db.dispose()
        if service.db.backend == "sqlite":
            self.path = str(self.url.database)
            self.copy = self.path + ".snapshot"
            self._sqlite_copy(self.path, self.copy)
        else:
            self.name = str(self.url.database)
            self.copy = self.name + "_snap"
            self._pg(f'CREATE DATABASE "{self.copy}" TEMPLATE "{self.name}"')

    @staticmethod
    def _sqlite_copy(source: str, target: str) -> None:
        import sqlite3

        src, dst = sqlite3.connect(source), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()

    def _pg(self, *statements: str) -> None:
        import psycopg

        admin = self.url.set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    def restore(self) -> None:
        self.service.db.dispose()
        if self.service.db.backend == "sqlite":
            self._sqlite_copy(self.copy, self.path)
        else:
            self._pg(f'DROP DATABASE "{self.name}" WITH (FORCE)',
                     f'CREATE DATABASE "{self.name}" TEMPLATE "{self.copy}"')

    def drop(self) -> None:
        if self.service.db.backend == "postgresql":
            self._pg(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')
