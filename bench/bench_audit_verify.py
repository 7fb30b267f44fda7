"""How fast is ``audit.verify_log`` compared with hashing the same leaves once?

    python bench/bench_audit_verify.py [--n 1000000] [--statement-share 0.02] [--repeat 3]

Builds N small, realistic log entries in memory (canonical JSON events: compiler reads,
person and user events, key registrations and approvals, and a share of DSSE statements
with corroborations signed by real Ed25519 keys), signs a checkpoint over them, then times

* ``sha256``: ``hashlib.sha256(entry).digest()`` for every entry, nothing else;
* ``verify``: ``verify_log`` on the same entries (root, checkpoint, keys, signatures, chain);

in the same process, best of ``--repeat`` runs each, and prints both and their ratio.
Times are process CPU time (``time.process_time``): on a shared machine wall-clock time
mostly measures the neighbours; the wall-clock ratio is printed too.  It
does this twice: on the mixed log, then with every statement event replaced by a plain
event, which isolates the hash-and-filter pipeline from the Ed25519
verifications (about 100 us each, and unavoidable: every signature must be checked).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import (
    STATEMENT_PAYLOAD_TYPE,
    Checkpoint,
    Signer,
    leaf_hash,
    pae,
    root_from_leaf_hashes,
    sign_checkpoint,
    verify_log,
)

ORIGIN = "bench.example/log"


def canonical(obj: object) -> bytes:
    # Equal to RFC 8785 for these objects: ASCII strings, integers, booleans and null only.
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def uid(kind: int, n: int) -> str:
    return f"{n:08x}-{kind:04x}-4000-8000-{n:012x}"


def when(n: int) -> str:
    return f"2026-{n // 2_000_000 % 12 + 1:02d}-01T{n // 3600 % 24:02d}:00:00.{n % 10**6:06d}Z"


def event(n: int, tag: str, **members: object) -> bytes:
    return canonical({"tag": tag, "time": when(n), "actor": uid(1, n % 300), **members})


def plain(n: int) -> bytes:
    kind = n % 10
    if kind < 6:
        return event(
            n,
            "compiler:list:eligible",
            context={"transfer": "exchange", "destination": "DE", "as_of": "2026-11-01"},
            policy_sha256=hashlib.sha256(b"policy").hexdigest(),
            result_sha256=hashlib.sha256(b"%d" % n).hexdigest(),
        )
    if kind < 8:
        person = uid(2, n)
        return event(n, "advocate:person:registered", person_id=person, commitment="ab" * 32)
    if kind < 9:
        return event(n, "advocate:person:status_changed", person_id=uid(2, n), status="released")
    return event(n, "admin:user:enrolled", user_id=uid(3, n))


class Log:
    """Builds the entries; statements go to persons in turn, each chained by ``previous``."""

    def __init__(self, advocates: int = 40) -> None:
        self.keys = [
            Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"adv%d" % i).digest())
            for i in range(advocates)
        ]
        self.heads: dict[str, str | None] = {}
        self.entries: list[bytes] = []
        self.statement_positions: list[int] = []

    def key_id(self, key: Ed25519PrivateKey) -> str:
        return hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()

    def add(self, entry: bytes, statement: bool = False) -> None:
        if statement:
            self.statement_positions.append(len(self.entries))
        self.entries.append(entry)

    def keys_events(self) -> None:
        for key in self.keys:
            raw = key.public_key().public_bytes_raw()
            n = len(self.entries)
            self.add(
                event(
                    n,
                    "advocate:key:registered",
                    key_id=self.key_id(key),
                    public_key=base64.b64encode(raw).decode(),
                    user_id=uid(3, n),
                    organisation_id=uid(4, n % 7),
                )
            )
            self.add(event(n + 1, "admin:key:approved", key_id=self.key_id(key)))

    def statement(self, n: int) -> None:
        person = uid(2, n % 20_000)
        previous = self.heads.get(person)
        body = canonical(
            {
                "type": "exchange-consent/statement/v1",
                "person": {"id": person, "commitment": "cd" * 32},
                "position": "refuses",
                "stated_on": "2026-10-01",
                "channel": "lawyer_visit",
                "evidence": [{"sha256": "ef" * 32, "kind": "letter"}],
                "duress_concern": False,
                "previous": previous,
            }
        )
        statement_id = hashlib.sha256(body).hexdigest()
        self.heads[person] = statement_id
        message = pae(STATEMENT_PAYLOAD_TYPE, body)
        first, second = self.keys[n % len(self.keys)], self.keys[(n + 1) % len(self.keys)]

        def sig(key: Ed25519PrivateKey) -> dict[str, str]:
            return {"keyid": self.key_id(key), "sig": base64.b64encode(key.sign(message)).decode()}

        envelope = {
            "payloadType": STATEMENT_PAYLOAD_TYPE,
            "payload": base64.b64encode(body).decode(),
            "signatures": [sig(first)],
        }
        recorded = event(
            n,
            "advocate:statement:recorded",
            statement_id=statement_id,
            person_id=person,
            envelope=envelope,
        )
        self.add(recorded, statement=True)
        corroborated = event(
            n + 1,
            "advocate:statement:corroborated",
            statement_id=statement_id,
            person_id=person,
            signature=sig(second),
        )
        self.add(corroborated, statement=True)


def build(n: int, share: float) -> Log:
    log = Log()
    log.keys_events()
    every = int(2 / share) if share > 0 else 0  # two entries (record + corroborate) each time
    i = len(log.entries)
    while len(log.entries) < n:
        if every and i % every == 0 and len(log.entries) + 2 <= n:
            log.statement(i)
        else:
            log.add(plain(i))
        i += 1
    return log


def best(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """Best CPU time and best wall-clock time over ``repeat`` runs."""
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return min(cpu), min(wall)


def measure(label: str, entries: list[bytes], signer: Signer, repeat: int) -> None:
    root = root_from_leaf_hashes([leaf_hash(e) for e in entries])
    note = sign_checkpoint(Checkpoint(ORIGIN, len(entries), root), signer)
    sha = hashlib.sha256

    def baseline() -> None:
        for entry in entries:
            sha(entry).digest()

    reports = []

    def verify() -> None:
        reports.append(verify_log(note, entries, signer.verifier))

    before = best(repeat, baseline)
    cpu_verify, wall_verify = best(repeat, verify)
    after = best(repeat, baseline)  # bracket verify; keep the quieter baseline
    cpu_sha, wall_sha = min(before[0], after[0]), min(before[1], after[1])
    report = reports[-1]
    size = sum(map(len, entries))
    print(
        f"{label}: {len(entries):,} entries, {size / len(entries):.0f} bytes on average, "
        f"{report.parsed_entries:,} parsed, {report.signatures_verified:,} signatures"
    )
    print(f"  sha256 of every leaf : {cpu_sha:8.3f} s cpu  ({wall_sha:.3f} s wall)")
    print(f"  verify_log           : {cpu_verify:8.3f} s cpu  ({wall_verify:.3f} s wall)")
    print(
        f"  ratio                : {cpu_verify / cpu_sha:8.2f} x cpu "
        f"({wall_verify / wall_sha:.2f} x wall)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of entries")
    parser.add_argument(
        "--statement-share",
        type=float,
        default=0.02,
        help="fraction of entries that are statement events (recorded + corroborated)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args()

    signer = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
    start = time.perf_counter()
    log = build(args.n, args.statement_share)
    print(f"built in {time.perf_counter() - start:.1f} s")
    measure("mixed log", log.entries, signer, args.repeat)
    for position in log.statement_positions:
        log.entries[position] = plain(position)
    measure("no statements", log.entries, signer, args.repeat)


if __name__ == "__main__":
    main()
