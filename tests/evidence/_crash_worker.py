"""The writer that the crash-consistency test kills.

Started once per test as ``python _crash_worker.py``: it imports the core (the slow part,
paid once), prints ``READY`` and then waits on standard input. Each line it reads is a JSON
job; for each job it forks a child that opens the instance from its data directory, as a
restarted server would, and records in a bounded loop: persons, signed statements,
corroborations and logged compiler reads. The child prints one line per write, and only after
the service call has returned (so the write is acknowledged and, by contract, durable)::

    PID <pid>
    P <person_id>
    S <statement_id> <log_index> <base64 receipt>
    C <statement_id> <log_index>
    E <log_index>
    END                                (the loop ran to its bound without being killed)

The test kills the child with SIGKILL at a random moment; this process reaps it and prints
``DONE <wait status>``. Only complete lines count: a line cut by the kill is no
acknowledgement. Lines are written with one ``os.write`` each (pipes keep writes under
PIPE_BUF whole).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from consent import (
    Actor,
    ConsentError,
    build_payload,
    open_instance,
    sign_envelope,
    sign_existing,
)
from policies import ListContext


def _warm_imports() -> None:
    """Import what the first connection would import lazily, so that each restart pays
    for connecting, not for loading modules (PostgreSQL's driver takes ~0.3 s to load)."""
    import sqlalchemy.dialects.sqlite.pysqlite

    try:
        import psycopg  # noqa: F401
        import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
    except ImportError:  # pragma: no cover - SQLite-only installs
        pass

SCOPE = {
    "transfers": ["exchange"],
    "destinations": ["DE", "LT"],
    "accepts_pardon_petition": False,
    "requires_documents_returned": True,
    "requires_family_may_accompany": False,
}
CONTEXT = ListContext(transfer="exchange", destination="DE", requires_pardon_petition=False,
                      documents_returned=True, family_may_accompany=False)


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def _actor(data: dict[str, Any]) -> Actor:
    return Actor(data["user_id"], data["role"], data.get("organisation_id"))


def _key(path: str) -> Any:
    return load_pem_private_key(Path(path).read_bytes(), password=None)


def _record_one(service: Any, rng: random.Random, alice: Actor, akey: Any, bkey: Any,
                person_id: str) -> None:
    person = service.get_person(alice, person_id)
    today = dt.datetime.now(dt.UTC).date()
    position = rng.choice(["consents", "consents", "refuses", "withdraws"])
    payload = build_payload(
        person_id=person.id, commitment=person.commitment, position=position,
        stated_on=today - dt.timedelta(days=rng.randrange(0, 60)), channel="lawyer_visit",
        previous=person.latest_statement_id,
        scope=SCOPE if position == "consents" else None,
        evidence=[{"sha256": rng.randbytes(32).hex(), "kind": "letter"}], today=today)
    signers = [akey, bkey] if position == "consents" and rng.random() < 0.5 else [akey]
    receipt = service.record_statement(alice, sign_envelope(payload, *signers))
    _say(f"S {receipt.statement_id} {receipt.log_index} "
         f"{base64.b64encode(receipt.receipt.encode()).decode()}")


def _corroborate(service: Any, alice: Actor, bob: Actor, bkey: Any, person_id: str) -> None:
    statements = service.statements_of(alice, person_id)
    if not statements:
        return
    latest = statements[-1]
    mine = sign_existing(latest.envelope(), bkey)
    if any(s.key_id == mine.keyid for s in latest.signatures):
        return
    receipt = service.add_signature(bob, latest.statement_id, mine)
    _say(f"C {latest.statement_id} {receipt.log_index}")


def child(job: dict[str, Any]) -> None:
    rng = random.Random(job["seed"])
    actors = json.loads(Path(job["actors"]).read_text())
    alice, bob, compiler = (_actor(actors[n]) for n in ("alice", "bob", "compiler"))
    akey, bkey = _key(actors["alice"]["key"]), _key(actors["bob"]["key"])
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_DATABASE_URL"}
    service = open_instance(Path(job["data_dir"]), env=env)
    persons: list[str] = list(job.get("persons", []))
    for _ in range(int(job.get("max_ops", 2000))):
        roll = rng.random()
        try:
            if not persons or roll < 0.1:
                record = service.register_person(alice, full_name=f"Person {rng.getrandbits(48)}")
                persons.append(record.id)
                _say(f"P {record.id}")
            elif roll < 0.7:
                _record_one(service, rng, alice, akey, bkey, rng.choice(persons))
            elif roll < 0.9:
                _corroborate(service, alice, bob, bkey, rng.choice(persons))
            else:
                service.eligible(compiler, CONTEXT)
                _say("E -1")
        except ConsentError as exc:
            # An expected refusal (say, a chain that moved) is fine; anything else is not.
            _say(f"X {type(exc).__name__}: {exc}".replace("\n", " ")[:500])
    _say("END")


def main() -> None:
    _warm_imports()
    _say("READY")
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                sys.stdin.close()
                os.close(0)
                _say(f"PID {os.getpid()}")
                child(job)
            except BaseException as exc:
                _say(f"FAIL {type(exc).__name__}: {exc}".replace("\n", " ")[:2000])
                os._exit(3)
            os._exit(0)
        _pid, status = os.waitpid(pid, 0)
        _say(f"DONE {status}")


if __name__ == "__main__":
    main()
