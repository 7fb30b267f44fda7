"""Concurrency: ``consent serve --workers 4`` on PostgreSQL under parallel writers.

Several clients (threads, each its own advocate and HTTP connection) record at least
``CONSENT_CONCURRENCY_WRITES`` (default 2,000) writes against four server processes at once:
persons, signed statements, corroborations of each other's statements, compiler reads, and
rounds where every client races to extend the same person's chain (exactly one may win; the
others must get 409, never a 5xx). Then: zero errors; every acknowledged write is in the log
once, at the index it was acknowledged with, and its receipt verifies; the tables and the
log agree; and the whole log verifies offline as one tree: no fork, no gap.

PostgreSQL only (several workers on SQLite is not a supported deployment): on SQLite it
skips, saying so; under CI with the PostgreSQL URL it runs.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import audit
from api import code_at, step_at
from consent import Actor, build_payload, public_key_bytes, sign_envelope, sign_existing
from tests.evidence.conftest import backend
from tests.evidence.helpers import Instance, audit_store
from tests.evidence.stack import PASSWORD

WRITES = int(os.environ.get("CONSENT_CONCURRENCY_WRITES", "2000"))
CLIENTS = int(os.environ.get("CONSENT_CONCURRENCY_CLIENTS", "6"))
WORKERS = 4
RACE_ROUNDS = 10
CONTEXT = {"transfer": "exchange", "destination": "DE", "requires_pardon_petition": False,
           "documents_returned": True, "family_may_accompany": False}
SCOPE = {"transfers": ["exchange"], "destinations": ["*"], "accepts_pardon_petition": False,
         "requires_documents_returned": False, "requires_family_may_accompany": False}

pytestmark = pytest.mark.skipif(
    backend() != "postgresql",
    reason="needs PostgreSQL (set CONSENT_TEST_DATABASE_URL): several workers on one SQLite "
           "file is not a supported deployment")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _consent_command() -> list[str]:
    return [sys.executable, "-m", "consent.cli"]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def server(instance: Instance, tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path / "serve.log"
    instance.service.db.dispose()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONSENT_DATABASE_URL", "CONSENT_DATA_DIR")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_consent_command(), "serve", "--data-dir", str(instance.data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "consent serve did not come up in 60 s"
            time.sleep(0.2)
        yield Server(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Client:
    name: str
    actor: Actor
    key: Ed25519PrivateKey
    http: httpx.Client
    persons: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (c, prev)
    acked: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, index, id)
    receipts: list[tuple[int, str]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lost_races: int = 0


def _enrol(url: str, invitation: str) -> str:
    """Enrol; returns a recovery code (the TOTP step just used cannot sign in again)."""
    with httpx.Client(base_url=url, timeout=30) as http:
        started = http.post("/v1/auth/enroll", json={"invitation": invitation,
                                                     "password": PASSWORD})
        assert started.status_code == 200, started.text
        secret = started.json()["secret"]
        now = dt.datetime.now(dt.UTC)
        confirmed = http.post("/v1/auth/enroll/confirm", json={
            "invitation": invitation, "code": code_at(secret, step_at(now))})
        assert confirmed.status_code == 200, confirmed.text
        return str(confirmed.json()["recovery_codes"][0])


def _sign_in(url: str, username: str, recovery_code: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as http:
        first = http.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert first.status_code == 200, first.text
        second = http.post("/v1/auth/totp", json={"mfa_token": first.json()["mfa_token"],
                                                  "recovery_code": recovery_code})
        assert second.status_code == 200, second.text
        return str(second.json()["access_token"])


def _clients(instance: Instance, url: str) -> tuple[list[Client], httpx.Client]:
    service, admin = instance.service, instance.admin
    org = instance.alice.organisation_id
    invitations: dict[str, str] = {}
    made: list[tuple[str, Actor, Ed25519PrivateKey]] = []
    for n in range(CLIENTS):
        name = f"writer{n}"
        user, invitations[name] = service.invite_user(admin, name, "advocate", org)
        actor = Actor(user.id, "advocate", org)
        key = Ed25519PrivateKey.generate()
        record = service.register_key(actor, public_key_bytes(key))
        service.approve_key(admin, record.key_id)
        made.append((name, actor, key))
    service.db.dispose()
    out = []
    for name, actor, key in made:
        token = _sign_in(url, name, _enrol(url, invitations[name]))
        out.append(Client(name, actor, key, httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})))
    compiler_code = _enrol(url, instance.invitations["compiler"])
    compiler = httpx.Client(base_url=url, timeout=60, headers={
        "Authorization": f"Bearer {_sign_in(url, 'compiler', compiler_code)}"})
    return out, compiler


def _post(client: Client, path: str, body: Any, *, expect: tuple[int, ...]) -> Any:
    try:
        response = client.http.post(path, json=body)
    except httpx.HTTPError as exc:
        client.errors.append(f"{path}: {type(exc).__name__}")
        return None
    client.statuses[response.status_code] += 1
    if response.status_code not in expect:
        client.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
        return None
    return response


def _statement(client: Client, pid: str, position: str, others: list[Client]) -> bytes:
    commitment, previous = client.persons[pid]
    today = dt.datetime.now(dt.UTC).date()
    return build_payload(
        person_id=pid, commitment=commitment, position=position, stated_on=today,
        channel="letter", previous=previous, scope=SCOPE if position == "consents" else None,
        evidence=[{"sha256": os.urandom(32).hex(), "kind": "letter"}], today=today)


def _writer(client: Client, share: int, others: list[Client], compiler: httpx.Client,
            barrier: threading.Barrier, race: dict[str, Any]) -> None:
    try:
        _write(client, share, others, compiler, barrier, race)
    except Exception as exc:
        client.errors.append(f"writer crashed: {type(exc).__name__}: {exc}")
        barrier.abort()


def _write(client: Client, share: int, others: list[Client], compiler: httpx.Client,
           barrier: threading.Barrier, race: dict[str, Any]) -> None:
    # Every writer runs the same number of steps, so that the race rounds line up. A step
    # is one statement, a quarter of a corroboration, and now and then a race entry.
    steps = share * 4 // 5
    interval = max(1, steps // (RACE_ROUNDS + 1))
    # A few persons of one's own.
    for n in range(5):
        name = f"{client.name} person {('bo', 'da', 'fe', 'lu', 'mi')[n]}"
        response = _post(client, "/v1/persons", {"full_name": name, "status": "imprisoned"},
                         expect=(201,))
        if response is not None:
            body = response.json()
            client.persons[body["id"]] = (body["commitment"], None)
            client.acked.append(("person", -1, body["id"]))
    mine = sorted(client.persons)
    for step in range(1, steps + 1):
        pid = mine[step % len(mine)]
        position = ("consents", "refuses", "withdraws")[step % 3]
        payload = _statement(client, pid, position, others)
        envelope = sign_envelope(payload, client.key)
        response = _post(client, "/v1/statements", envelope.to_json(), expect=(201,))
        if response is not None:
            body = response.json()
            client.persons[pid] = (client.persons[pid][0], body["statement_id"])
            client.acked.append(("statement", body["log_index"], body["statement_id"]))
            client.receipts.append((body["log_index"], body["receipt"]))
            if step % 4 == 0:  # another writer corroborates it, concurrently with the rest
                other = others[step % len(others)]
                signature = sign_existing(envelope, other.key)
                done = _post(other, f"/v1/statements/{body['statement_id']}/signatures",
                             signature.to_json(), expect=(201,))
                if done is not None:
                    other.acked.append(("corroboration", done.json()["log_index"],
                                        body["statement_id"]))
        if step % 25 == 0:
            read = compiler.post("/v1/lists/eligible", json={"context": CONTEXT})
            client.statuses[read.status_code] += 1
            if read.status_code != 200:
                client.errors.append(f"eligible: {read.status_code}")
        if step % interval == 0 and step // interval <= RACE_ROUNDS:
            # Everyone races to extend one shared person's chain from the same head.
            barrier.wait(timeout=120)
            shared = race["person"]
            payload = build_payload(
                person_id=shared["id"], commitment=shared["commitment"], position="refuses",
                stated_on=dt.datetime.now(dt.UTC).date(), channel="letter",
                previous=shared["previous"], evidence=[{"sha256": os.urandom(32).hex(),
                                                        "kind": "letter"}])
            response = _post(client, "/v1/statements",
                             sign_envelope(payload, client.key).to_json(), expect=(201, 409))
            if response is not None and response.status_code == 201:
                body = response.json()
                client.acked.append(("statement", body["log_index"], body["statement_id"]))
                with race["lock"]:
                    race["winners"].append(body["statement_id"])
                    race["next_previous"] = body["statement_id"]
            elif response is not None:
                client.lost_races += 1
            if barrier.wait(timeout=120) == 0:  # one thread moves the round on
                race["person"]["previous"] = race.get("next_previous")
                race["round"] += 1
            barrier.wait(timeout=120)


@pytest.mark.slow
def test_four_workers_under_parallel_writers(instance: Instance, server: Server) -> None:
    clients, compiler = _clients(instance, server.url)
    shared = clients[0].http.post("/v1/persons", json={"full_name": "Shared Racer",
                                                       "status": "imprisoned"}).json()
    race: dict[str, Any] = {"round": 0, "winners": [], "lock": threading.Lock(),
                            "person": {"id": shared["id"], "commitment": shared["commitment"],
                                       "previous": None}}
    barrier = threading.Barrier(len(clients))
    share = -(-WRITES // len(clients))
    started = time.perf_counter()
    threads = [threading.Thread(target=_writer, args=(c, share, [o for o in clients if o is not c],
                                                      compiler, barrier, race))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    elapsed = time.perf_counter() - started
    assert not any(t.is_alive() for t in threads), "writers did not finish in 15 minutes"

    statuses = sum((c.statuses for c in clients), Counter())
    errors = [e for c in clients for e in c.errors]
    acked = [a for c in clients for a in c.acked]
    print(f"{len(acked)} writes acknowledged in {elapsed:.1f} s by {len(clients)} clients "
          f"against {WORKERS} workers ({len(acked) / elapsed:.0f}/s); statuses "
          f"{dict(statuses)}; races: {len(race['winners'])} won, "
          f"{sum(c.lost_races for c in clients)} lost")
    assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
    assert not any(s >= 500 for s in statuses), dict(statuses)
    assert len(acked) >= WRITES, f"only {len(acked)} writes acknowledged"
    assert len(race["winners"]) == race["round"] == RACE_ROUNDS, "a race had no single winner"
    assert sum(c.lost_races for c in clients) == RACE_ROUNDS * (len(clients) - 1)

    # One consistent log: every acknowledged index once, the right entry at each.
    indexed = [(i, kind, ident) for kind, i, ident in acked if i >= 0]
    counts = Counter(i for i, _k, _id in indexed)
    assert not [i for i, n in counts.items() if n > 1], "two writes acknowledged at one index"
    result = audit_store(instance.service, instance.auditor)
    for index, kind, ident in indexed:
        event = result.events[index]
        assert event["statement_id"] == ident, f"entry {index} is not the acknowledged {kind}"
        assert event["tag"] == ("advocate:statement:recorded" if kind == "statement"
                                else "advocate:statement:corroborated")
    persons = {e["person_id"] for e in result.events
               if e["tag"] == "advocate:person:registered"}
    assert {ident for kind, _i, ident in acked if kind == "person"} <= persons
    verifier = audit.Verifier.from_vkey(instance.service.vkey())
    current = audit.open_checkpoint(result.checkpoint, verifier)
    for index, receipt in (r for c in clients for r in c.receipts):
        cp = audit.verify_receipt(receipt, result.entries[index], verifier)
        if 0 < cp.size < current.size:
            proof = instance.service.consistency_proof(cp.size, current.size)
            audit.verify_consistency(cp.size, current.size, proof, cp.root_hash,
                                     current.root_hash)
    # The server answered everything itself: nothing in its log says otherwise.
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[text.index("Traceback"):][:3000]
