"""One command, one table: every figure of issue 8's benchmark next to its baseline, both
measured in this run on this machine.

    python bench/run.py [--quick] [--database-url URL] [--duration S] [--connections N]

(a) a bare FastAPI hello-world under uvicorn with the settings ``consent serve`` uses:
    requests per second;
(b) an authenticated ``POST /v1/lists/vet`` of one candidate (each one a logged, durable
    write): per second, as a ratio to (a); goal >= 0.5;
(c) durable statement recording (``POST /v1/statements``, signed client-side ahead of the
    run): per second, as a ratio to (a); goal >= 0.25;
(d) ``POST /v1/lists/eligible`` over 20,000 persons and 100,000 statements: seconds (first
    call after start, then warm); the pure engine's time (bench/bench_eligibility.py) beside;
(e) per-append cost of the log at 1,000,000 entries over that at 10,000: goal <= 1.3;
(f) offline verification of 1,000,000 entries over SHA-256 of the same leaves: goal <= 3
    (bench/bench_audit_verify.py, run as it stands).

Servers and the load generator (bench/_loadgen.py, asyncio, keep-alive) are separate
processes on 127.0.0.1; every load phase is bounded in time. ``--quick`` shrinks (d), (e),
(f) by 10x for a fast look; the table says which sizes were used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench import _instance, _logbench  # noqa: E402

PY = sys.executable
CONTEXT = {"transfer": "exchange", "destination": "DE", "requires_pardon_petition": False,
           "documents_returned": True, "family_may_accompany": False}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(args: list[str], port: int, log: Path, env: dict[str, str] | None = None
           ) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=env or dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start in 60 s") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(port: int, requests: list[list[dict[str, Any]]], *, duration: float,
         connections: int, repeat: bool = True, work: Path) -> dict[str, Any]:
    spec = {"host": "127.0.0.1", "port": port, "duration": duration, "warmup": 1.0,
            "connections": connections, "requests": requests, "repeat": repeat}
    path = work / f"spec-{port}.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run([PY, str(ROOT / "bench" / "_loadgen.py"), str(path)],
                          capture_output=True, check=True, timeout=duration + 120)
    return dict(json.loads(done.stdout))


def consent_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("CONSENT_DATABASE_URL", "CONSENT_DATA_DIR")}


# -- the parts --------------------------------------------------------------------------


def part_a(work: Path, duration: float, connections: int) -> dict[str, Any]:
    port = free_port()
    with server([PY, str(ROOT / "bench" / "_servers.py"), "hello", str(port)], port,
                work / "hello.log"):
        return load(port, [[{"method": "GET", "path": "/"}]], duration=duration,
                    connections=connections, work=work)


def parts_b_c(work: Path, database_url: str | None, duration: float,
              connections: int) -> tuple[dict[str, Any], dict[str, Any], str]:
    inst = _instance.create(work / "http-instance", database_url)
    # Something to vet against: 200 persons with statements, one candidate eligible.
    say("  (b, c) preparing the instance")
    chains = _instance.chains(inst, persons=connections * 40, per_person=40)
    candidate = inst.service.register_person(inst.alice, full_name="Vetted Candidate")
    from consent import build_payload, sign_envelope

    today = inst.service.today()
    payload = build_payload(person_id=candidate.id, commitment=candidate.commitment,
                            position="consents", stated_on=today, channel="letter",
                            previous=None, scope={"transfers": ["exchange"],
                                                  "destinations": ["*"],
                                                  "accepts_pardon_petition": False,
                                                  "requires_documents_returned": False,
                                                  "requires_family_may_accompany": False},
                            today=today)
    inst.service.record_statement(inst.alice, sign_envelope(payload, inst.alice_key,
                                                            inst.bob_key))
    backend = inst.service.db.backend
    inst.service.db.dispose()
    port = free_port()
    with server([PY, "-m", "consent.cli", "serve", "--data-dir", str(inst.data_dir),
                 "--host", "127.0.0.1", "--port", str(port)], port, work / "consent.log",
                env=consent_env()) as url:
        compiler = _instance.enrol_and_sign_in(url, "compiler", inst.invitations["compiler"])
        alice = _instance.enrol_and_sign_in(url, "alice", inst.invitations["alice"])
        vet = {"method": "POST", "path": "/v1/lists/vet",
               "headers": {"Authorization": f"Bearer {compiler}"},
               "body": json.dumps({"context": CONTEXT,
                                   "candidates": [{"person_id": candidate.id}]})}
        check = httpx.post(url + "/v1/lists/vet", content=vet["body"], timeout=30,
                           headers={**vet["headers"], "Content-Type": "application/json"})
        assert check.json() == [{"eligible": True}], check.text
        b = load(port, [[vet]], duration=duration, connections=connections, work=work)
        auth = {"Authorization": f"Bearer {alice}"}
        per_connection: list[list[dict[str, Any]]] = [[] for _ in range(connections)]
        for n, chain in enumerate(chains):
            per_connection[n % connections].append(chain)  # type: ignore[arg-type]
        requests = []
        for mine in per_connection:
            # Round-robin over this connection's persons, each chain in its order.
            ordered = [chain[k] for k in range(len(mine[0])) for chain in mine]  # type: ignore[index]
            requests.append([{"method": "POST", "path": "/v1/statements", "headers": auth,
                              "body": json.dumps(body)} for body in ordered])
        c = load(port, requests, duration=duration, connections=connections, repeat=False,
                 work=work)
    return b, c, backend


def part_d(work: Path, database_url: str | None, persons: int, statements: int
           ) -> dict[str, Any]:
    inst = _instance.create(work / "eligible-instance", database_url)
    started = time.perf_counter()
    expected = _instance.bulk_load(inst, persons=persons, statements=statements, progress=say)
    say(f"  (d) loaded {persons:,} persons, {statements:,} statements in "
        f"{time.perf_counter() - started:.0f} s")
    inst.service.db.dispose()
    port = free_port()
    out: dict[str, Any] = {"expected": expected}
    with server([PY, "-m", "consent.cli", "serve", "--data-dir", str(inst.data_dir),
                 "--host", "127.0.0.1", "--port", str(port)], port, work / "eligible.log",
                env=consent_env()) as url:
        token = _instance.enrol_and_sign_in(url, "compiler", inst.invitations["compiler"])
        times = []
        for _ in range(3):
            t = time.perf_counter()
            response = httpx.post(url + "/v1/lists/eligible", json={"context": CONTEXT},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=600)
            times.append(time.perf_counter() - t)
            response.raise_for_status()
            out["listed"] = len(response.json())
        out["first_s"], out["warm_s"] = times[0], min(times[1:])
    engine = subprocess.run([PY, str(ROOT / "bench" / "bench_eligibility.py"), "--persons",
                             str(persons), "--statements", str(statements), "--repeat", "3"],
                            capture_output=True, text=True, timeout=900)
    match = re.search(r"evaluate\s*:\s*([\d.,]+) ms", engine.stdout)
    out["engine_s"] = float(match.group(1).replace(",", "")) / 1000 if match else None
    return out


def part_e(work: Path, database_url: str | None, small: int, large: int) -> dict[str, Any]:
    counter = [0]

    def url_for(name: str) -> str:
        counter[0] += 1
        if database_url is None:
            return f"sqlite+pysqlite:///{work / name}.sqlite3"
        return _pg_database(database_url, f"bench_{name}_{os.getpid()}")

    return _logbench.append_cost(url_for, small, large, appends=1000, durable_appends=100)


def _pg_database(url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return parsed.set(database=name).render_as_string(hide_password=False)


def part_f(entries: int) -> dict[str, Any]:
    done = subprocess.run([PY, str(ROOT / "bench" / "bench_audit_verify.py"), "--n",
                           str(entries), "--repeat", "2"], capture_output=True, text=True,
                          timeout=1800)
    ratios = re.findall(r"ratio\s*:\s*([\d.]+) x cpu \(([\d.]+) x wall\)", done.stdout)
    signatures = re.findall(r"([\d,]+) signatures", done.stdout)
    return {"stdout": done.stdout, "ratios": [(float(a), float(b)) for a, b in ratios],
            "signatures": signatures}


# -- the table --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL for (b)-(e); default SQLite files")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--only", default="abcdef")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    work = Path(tempfile.mkdtemp(prefix="consent-bench-"))
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []

    def step(name: str, run: Callable[[], Any]) -> Any:
        say(f"({name}) running ...")
        started = time.perf_counter()
        result = run()
        say(f"({name}) done in {time.perf_counter() - started:.0f} s")
        return result

    a = step("a", lambda: part_a(work, args.duration, args.connections))
    rows.append(("(a) hello-world, requests/s", f"{a['rps']:,.0f}", "-",
                 f"p50 {a['p50_ms']:.1f} ms"))
    if "b" in args.only or "c" in args.only:
        b, c, backend = step("b, c", lambda: parts_b_c(work, args.database_url,
                                                       args.duration, args.connections))
        rows.append((f"(b) vet of one candidate, /s ({backend})", f"{b['rps']:,.0f}",
                     f"{b['rps'] / a['rps']:.3f} of (a), goal >= 0.5",
                     f"p50 {b['p50_ms']:.1f} ms, {b['statuses']}"))
        rows.append((f"(c) durable statements, /s ({backend})", f"{c['rps']:,.0f}",
                     f"{c['rps'] / a['rps']:.3f} of (a), goal >= 0.25",
                     f"p50 {c['p50_ms']:.1f} ms, {c['statuses']}"))
    if "d" in args.only:
        persons, statements = 20_000 // scale, 100_000 // scale
        d = step("d", lambda: part_d(work, args.database_url, persons, statements))
        rows.append((f"(d) eligible list, {persons:,} persons / {statements:,} statements",
                     f"{d['warm_s']:.2f} s", f"first call {d['first_s']:.2f} s",
                     f"{d['listed']:,} listed ({d['expected']:,} by construction); "
                     f"pure engine {d['engine_s'] or float('nan'):.2f} s"))
    if "e" in args.only:
        small, large = 10_000, 1_000_000 // scale
        e = step("e", lambda: part_e(work, args.database_url, small, large))
        rows.append((f"(e) append at {large:,} / at {small:,}, in one tx",
                     f"{e['batched_large'] / e['batched_small']:.2f}",
                     "goal <= 1.3",
                     f"{e['batched_small'] * 1e3:.2f} -> {e['batched_large'] * 1e3:.2f} ms"))
        rows.append((f"(e) append at {large:,} / at {small:,}, durable",
                     f"{e['durable_large'] / e['durable_small']:.2f}", "goal <= 1.3",
                     f"{e['durable_small'] * 1e3:.2f} -> {e['durable_large'] * 1e3:.2f} ms"))
    if "f" in args.only:
        n = 1_000_000 // scale
        f = step("f", lambda: part_f(n))
        labels = ("mixed log", "no statements")
        for (cpu, wall), label, sigs in zip(f["ratios"], labels, f["signatures"] or ["?"] * 2,
                                            strict=False):
            rows.append((f"(f) verify / SHA-256, {n:,} entries, {label}", f"{cpu:.2f}",
                         "goal <= 3", f"cpu ratio; wall {wall:.2f}; {sigs} signatures"))
        notes.append(f["stdout"].strip())

    width = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("figure", "value", "against", "detail")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    line = "  ".join("-" * w for w in width)
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)))
    print(line)
    for r in rows:
        print("  ".join(x.ljust(w) for x, w in zip(r, width, strict=True)))
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          f"load {args.connections} connections x {args.duration:.0f} s after 1 s warm-up")
    for note in notes:
        print("\n" + note)


if __name__ == "__main__":
    main()
