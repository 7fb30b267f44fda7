"""Benchmarks of the transparency log alone: (e) append cost by size, (f) offline verify.

(e) The log's tables are bulk-filled to N entries (leaves and every perfect-subtree node,
computed here with ``audit``'s hashing, written in large batches), then ``LogStore.append``
is timed for a run of further appends, as the service makes them: inside a write
transaction holding the log lock. Two figures per size: appends batched in one transaction
(the append's own work: sibling reads, node and entry inserts, head update) and one durable
transaction per append (what a client waits for; the commit's fsync dominates).

(f) A dump of N entries is written as ``consent audit dump`` would (``checkpoint`` and
``entries.jsonl``) and verified with ``audit.verify_log`` over ``read_dump``; the baseline
is SHA-256 of each line of the same file, read the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import audit
from audit.storage import LogEntry, LogHead, LogNode, LogStore
from consent import Database, canonical_bytes
from consent._envelope import STATEMENT_PAYLOAD_TYPE

STAMP = "2026-11-01T12:00:00.000000Z"


def _uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def read_event(rng: random.Random, actor: str) -> bytes:
    """A compiler read: the bulk of a long-lived log."""
    return canonical_bytes({
        "tag": "compiler:list:vetted", "time": STAMP, "actor": actor,
        "context": {"transfer": "exchange", "destination": "DE",
                    "requires_pardon_petition": False, "documents_returned": True,
                    "family_may_accompany": False},
        "policy_sha256": "ab" * 32, "result_sha256": rng.randbytes(32).hex()})


def _read_events_fast(rng: random.Random, actor: str, count: int) -> Iterator[bytes]:
    # The canonical bytes of read_event() with only the result hash varying, made by
    # splicing (canonical_bytes is exact but slow at a million calls).
    marker = "0" * 64
    template = canonical_bytes({
        "tag": "compiler:list:vetted", "time": STAMP, "actor": actor,
        "context": {"transfer": "exchange", "destination": "DE",
                    "requires_pardon_petition": False, "documents_returned": True,
                    "family_may_accompany": False},
        "policy_sha256": "ab" * 32, "result_sha256": marker})
    head, tail = template.split(marker.encode())
    for _ in range(count):
        yield head + rng.randbytes(32).hex().encode() + tail


def make_leaves(count: int, *, statements: int, seed: int = 1) -> list[bytes]:
    """``count`` leaves: a few keys registered and approved, ``statements`` signed
    statement events (every fifth with a corroboration following), the rest compiler reads,
    interleaved at random. Every signature is real, so the verifier checks each."""
    rng = random.Random(seed)
    advocates = []
    head: list[bytes] = []
    for _ in range(4):
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = hashlib.sha256(raw).hexdigest()
        user = _uuid(rng)
        advocates.append((key, key_id, user))
        head.append(canonical_bytes({
            "tag": "advocate:key:registered", "time": STAMP, "actor": user, "key_id": key_id,
            "public_key": base64.b64encode(raw).decode(), "user_id": user,
            "organisation_id": _uuid(rng)}))
        head.append(canonical_bytes({"tag": "admin:key:approved", "time": STAMP,
                                     "actor": None, "key_id": key_id}))
    signed: list[bytes] = []
    for n in range(statements):
        key, key_id, user = advocates[n % len(advocates)]
        payload = canonical_bytes({
            "type": "exchange-consent/statement/v1",
            "person": {"id": _uuid(rng), "commitment": rng.randbytes(32).hex()},
            "position": "refuses", "stated_on": "2026-10-01", "channel": "letter",
            "evidence": [], "duress_concern": False, "previous": None})
        message = audit.pae(STATEMENT_PAYLOAD_TYPE, payload)
        sid = hashlib.sha256(payload).hexdigest()
        envelope = {"payloadType": STATEMENT_PAYLOAD_TYPE,
                    "payload": base64.b64encode(payload).decode(),
                    "signatures": [{"keyid": key_id,
                                    "sig": base64.b64encode(key.sign(message)).decode()}]}
        signed.append(canonical_bytes({
            "tag": "advocate:statement:recorded", "time": STAMP, "actor": user,
            "statement_id": sid, "person_id": _uuid(rng), "envelope": envelope}))
        if n % 5 == 0 and len(signed) + len(head) < count:
            other, other_id, other_user = advocates[(n + 1) % len(advocates)]
            signed.append(canonical_bytes({
                "tag": "advocate:statement:corroborated", "time": STAMP, "actor": other_user,
                "statement_id": sid, "person_id": _uuid(rng),
                "signature": {"keyid": other_id,
                              "sig": base64.b64encode(other.sign(message)).decode()}}))
    rest = count - len(head) - len(signed)
    if rest < 0:
        raise ValueError("too many statements for the log size")
    reads = list(_read_events_fast(rng, _uuid(rng), rest))
    # Interleave: statements keep their order (a corroboration follows its statement).
    slots = sorted(rng.sample(range(len(signed) + rest), len(signed)))
    body: list[bytes] = []
    si = ri = 0
    slot_set = set(slots)
    for position in range(len(signed) + rest):
        if position in slot_set:
            body.append(signed[si])
            si += 1
        else:
            body.append(reads[ri])
            ri += 1
    return head + body


# -- (e) append cost ---------------------------------------------------------------------


def _perfect_nodes(leaf_hashes: list[bytes]) -> Iterator[tuple[int, int, bytes]]:
    level, current = 0, leaf_hashes
    while current:
        for i, h in enumerate(current):
            yield level, i, h
        nxt = [audit.node_hash(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)]
        level, current = level + 1, nxt


def fill_log(db: Database, count: int, seed: int = 2) -> None:
    """Create the log tables and bulk-fill them to ``count`` entries (no service, no ORM)."""
    LogHead.metadata.create_all(db.engine, tables=[
        LogHead.__table__, LogEntry.__table__, LogNode.__table__])  # type: ignore[attr-defined]
    rng = random.Random(seed)
    leaves = list(_read_events_fast(rng, _uuid(rng), count))
    hashes = [audit.leaf_hash(x) for x in leaves]
    batch = 50_000
    with db.engine.begin() as conn:
        conn.execute(LogHead.__table__.delete())  # type: ignore[attr-defined]
        conn.execute(LogHead.__table__.insert(), [{"id": 1, "size": count}])  # type: ignore[attr-defined]
        rows = [{"idx": i, "leaf": leaf, "tag": "compiler:list:vetted"}
                for i, leaf in enumerate(leaves)]
        for start in range(0, len(rows), batch):
            conn.execute(LogEntry.__table__.insert(), rows[start:start + batch])  # type: ignore[attr-defined]
        del rows
        nodes: list[dict[str, Any]] = []
        for level, idx, h in _perfect_nodes(hashes):
            nodes.append({"level": level, "idx": idx, "hash": h})
            if len(nodes) >= batch:
                conn.execute(LogNode.__table__.insert(), nodes)  # type: ignore[attr-defined]
                nodes = []
        if nodes:
            conn.execute(LogNode.__table__.insert(), nodes)  # type: ignore[attr-defined]


def time_appends(db: Database, appends: int, *, durable: bool) -> float:
    """Seconds per append: ``appends`` appends, each in its own transaction or all in one."""
    store = LogStore(audit.Signer("bench.local/log", Ed25519PrivateKey.generate()),
                     "bench.local/log")
    rng = random.Random(3)
    leaves = [read_event(rng, _uuid(rng)) for _ in range(appends)]
    start = time.perf_counter()
    if durable:
        for leaf in leaves:
            with db.write() as session:
                store.append(session, leaf, "compiler:list:vetted")
    else:
        with db.write() as session:
            for leaf in leaves:
                store.append(session, leaf, "compiler:list:vetted")
    return (time.perf_counter() - start) / appends


def append_cost(url_for: Any, small: int, large: int, appends: int,
                durable_appends: int) -> dict[str, float]:
    """Per-append seconds at ``small`` and ``large`` entries; ``url_for(name)`` gives a
    fresh database URL."""
    out: dict[str, float] = {}
    for label, size in (("small", small), ("large", large)):
        db = Database(url_for(f"append_{label}"))
        try:
            started = time.perf_counter()
            fill_log(db, size)
            out[f"fill_{label}_s"] = time.perf_counter() - started
            time_appends(db, 200, durable=False)  # warm the caches the same way at both sizes
            # Best of three runs each: the machine is shared, and the floor is the cost.
            out[f"batched_{label}"] = min(time_appends(db, appends, durable=False)
                                          for _ in range(3))
            out[f"durable_{label}"] = min(time_appends(db, durable_appends, durable=True)
                                          for _ in range(3))
        finally:
            db.dispose()
    return out


# -- (f) offline verification -------------------------------------------------------------


def write_dump(folder: Path, leaves: list[bytes]) -> str:
    """``checkpoint`` and ``entries.jsonl`` as ``consent audit dump`` writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    tree_hashes = [audit.leaf_hash(x) for x in leaves]
    signer = audit.Signer("bench.local/log", Ed25519PrivateKey.generate())
    cp = audit.Checkpoint(origin="bench.local/log", size=len(leaves),
                          root_hash=audit.root_from_leaf_hashes(tree_hashes), extensions=())
    note = audit.sign_checkpoint(cp, signer)
    (folder / "checkpoint").write_text(note, encoding="utf-8")
    with (folder / "entries.jsonl").open("wb") as fh:
        fh.write(b"\n".join(leaves) + b"\n")
    return str(signer.verifier.vkey)


def sha256_lines(folder: Path) -> float:
    """The baseline: read the same file the same way and SHA-256 each leaf."""
    started = time.perf_counter()
    _note, entries = audit.read_dump(folder)
    sha = hashlib.sha256
    for entry in entries:
        sha(entry).digest()
    return time.perf_counter() - started


def verify_dump(folder: Path, vkey: str) -> tuple[float, audit.VerifyReport]:
    started = time.perf_counter()
    note, entries = audit.read_dump(folder)
    report = audit.verify_log(note, entries, audit.Verifier.from_vkey(vkey))
    return time.perf_counter() - started, report


def verify_cost(count: int, statements: int, work: Path) -> dict[str, Any]:
    leaves = make_leaves(count, statements=statements)
    folder = work / f"dump_{count}_{statements}"
    vkey = write_dump(folder, leaves)
    del leaves
    sha256_lines(folder)  # warm the page cache for both
    base = min(sha256_lines(folder) for _ in range(3))
    took, report = verify_dump(folder, vkey)
    return {"verify_s": took, "sha256_s": base, "ratio": took / base,
            "signatures": report.signatures_verified, "entries": report.entries}


if __name__ == "__main__":  # a quick look: python bench/_logbench.py
    work = Path(tempfile.mkdtemp(prefix="logbench-"))
    print(json.dumps(verify_cost(100_000, 0, work)))
    print(json.dumps(append_cost(lambda n: f"sqlite+pysqlite:///{work / n}.sqlite3",
                                 1_000, 100_000, 2_000, 100)))
    _ = os, dt
