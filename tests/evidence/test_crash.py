"""Crash consistency: SIGKILL a writer at random moments, then check what survived.

A child process (forked from ``_crash_worker.py``, which has paid for the imports once)
opens the instance as a restarted server would and records persons, signed statements,
corroborations and logged compiler reads in a loop, printing each id only after the service
has acknowledged it. The test kills it with SIGKILL after a random delay, ``CYCLES`` times
(``CONSENT_CRASH_CYCLES``, default 50) on the backend that ``CONSENT_TEST_DATABASE_URL``
selects. After every kill:

* every acknowledged write is present, at the log index it was acknowledged with, and its
  receipt verifies against the leaf now stored there;
* nothing is half-written: every table and the log agree (``helpers.audit_store``);
* the whole log verifies offline, extends the previous cycle's checkpoint (trusted), and
  is consistent with every checkpoint seen so far (the server's consistency proofs are
  checked against each).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import audit
from tests.evidence.helpers import Instance, audit_store

CYCLES = int(os.environ.get("CONSENT_CRASH_CYCLES", "50"))
MAX_DELAY = float(os.environ.get("CONSENT_CRASH_MAX_DELAY", "0.5"))
WORKER = Path(__file__).with_name("_crash_worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """The zygote process; its forked children write to the same pipe, one line a write."""

    def __init__(self, stderr_path: Path) -> None:
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        assert self.next_line(60) == "READY", "the crash worker did not start"

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            # A line cut short by the kill has no newline: it was never acknowledged.
            if raw.endswith(b"\n"):
                self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout: float) -> str | None:
        return self.lines.get(timeout=timeout)

    def start(self, job: dict[str, object]) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        self.proc.stdin.flush()
        first = self.next_line(60)
        assert first is not None and first.startswith("PID "), first
        return int(first.split()[1])

    def collect(self) -> list[str]:
        """Lines up to the worker's ``DONE`` for the current child."""
        out = []
        while True:
            line = self.next_line(60)
            assert line is not None, "the crash worker died"
            if line.startswith("DONE "):
                return out
            out.append(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def _persons(instance: Instance) -> list[str]:
    from sqlalchemy import select

    from consent._tables import Person

    with instance.service.reading() as session:
        return list(session.execute(select(Person.id)).scalars())


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_acknowledged(
        instance: Instance, tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("CONSENT_CRASH_SEED", secrets_seed()))
    actors = instance.write_actors(tmp_path / "actors")
    verifier = audit.Verifier.from_vkey(instance.service.vkey())
    seen_checkpoints: dict[int, str] = {}
    acknowledged: dict[str, int] = {}
    corroborations: list[tuple[str, int]] = []
    persons_acked: set[str] = set()
    reads_acked = 0
    previous = audit_store(instance.service, instance.auditor)
    seen_checkpoints[previous.size] = previous.checkpoint
    killed_mid_run = 0
    worker = Worker(tmp_path / "worker.stderr")
    try:
        for cycle in range(CYCLES):
            instance.service.db.dispose()  # no connection of ours spans the child's life
            pid = worker.start({"data_dir": str(instance.data_dir), "actors": str(actors),
                                "seed": rng.getrandbits(64), "persons": _persons(instance),
                                "max_ops": 5000})
            time.sleep(rng.uniform(0.0, MAX_DELAY))
            try:
                os.kill(pid, signal.SIGKILL)
                killed_mid_run += 1
            except ProcessLookupError:
                pass
            lines = worker.collect()
            failures = [ln for ln in lines if ln.startswith(("FAIL", "X "))]
            assert not failures, f"cycle {cycle}: the writer failed: {failures[:3]}"
            for line in lines:
                kind, *rest = line.split(" ")
                if kind == "S":
                    sid, index, receipt = rest[0], int(rest[1]), rest[2]
                    acknowledged[sid] = index
                    # The receipt the writer was given must verify against what is stored.
                    receipt_text = base64.b64decode(receipt).decode()
                    cp = audit.parse_receipt(receipt_text).checkpoint_note
                    seen_checkpoints.setdefault(audit.open_checkpoint(cp, verifier).size, cp)
                elif kind == "C":
                    corroborations.append((rest[0], int(rest[1])))
                elif kind == "P":
                    persons_acked.add(rest[0])
                elif kind == "E":
                    reads_acked += 1

            # After the crash: everything agrees, and everything acknowledged is there.
            now = audit_store(instance.service, instance.auditor)
            missing = {s: i for s, i in acknowledged.items() if now.statements.get(s) != i}
            assert not missing, f"cycle {cycle}: acknowledged statements lost: {missing}"
            for sid, index in corroborations:
                event = now.events[index]
                assert event["tag"] == "advocate:statement:corroborated"
                assert event["statement_id"] == sid
            stored_persons = {e["person_id"] for e in now.events
                              if e["tag"] == "advocate:person:registered"}
            assert persons_acked <= stored_persons, f"cycle {cycle}: persons lost"
            assert reads_acked <= sum(e["tag"] == "compiler:list:eligible"
                                      for e in now.events)
            for line in lines:
                if line.startswith("S "):
                    _s, _sid, index, receipt = line.split(" ")
                    audit.verify_receipt(base64.b64decode(receipt).decode(),
                                         now.entries[int(index)], verifier)
            # The log extends the previous cycle's checkpoint, and every one seen so far.
            audit.verify_log(now.checkpoint, now.entries, verifier,
                             trusted_note=previous.checkpoint)
            current = audit.open_checkpoint(now.checkpoint, verifier)
            for size, note in sorted(seen_checkpoints.items()):
                old = audit.open_checkpoint(note, verifier)
                assert size <= current.size, f"cycle {cycle}: the log shrank below {size}"
                if 0 < size < current.size:
                    proof = instance.service.consistency_proof(size, current.size)
                    audit.verify_consistency(size, current.size, proof, old.root_hash,
                                             current.root_hash)
                elif size == current.size:
                    assert old.root_hash == current.root_hash, f"fork at size {size}"
            seen_checkpoints[current.size] = now.checkpoint
            previous = now
    finally:
        worker.close()
    # The run made progress across restarts, and the kills landed while it was writing.
    total = len(acknowledged) + len(corroborations) + len(persons_acked) + reads_acked
    print(f"{CYCLES} kills; acknowledged: {len(acknowledged)} statements, "
          f"{len(corroborations)} corroborations, {len(persons_acked)} persons, "
          f"{reads_acked} compiler reads; log size {previous.size}")
    assert total >= CYCLES // 4 and acknowledged, f"too little progress: {total} writes"
    assert killed_mid_run >= CYCLES * 0.9


def secrets_seed() -> str:
    seed = str(random.SystemRandom().getrandbits(32))
    print(f"CONSENT_CRASH_SEED={seed}")
    return seed
