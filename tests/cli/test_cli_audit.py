"""Auditors: dump over HTTP and from the data directory, offline verification, receipts."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

import audit
from consent import canonical_bytes
from consent.cli import app
from tests.cli.conftest import Team, passphrase_env
from tests.cli.test_cli_roles import SCOPE_DE_LT, _add, _record


def _verify(dump: Path, vkey: str, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["audit", "verify", str(dump), "--key", vkey, *extra])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def recorded(team: Team) -> dict[str, str]:
    person = _add(team, "Ilya Voronin", "1979-03-14")
    refusal = _record(team, "anna", person, "--position", "refuses")
    other = _add(team, "Daria Sokolova", "1991-11-02")
    consent = _record(team, "anna", other, *SCOPE_DE_LT)
    team.live.ok("corroborate", other, "--yes", profile="boris", env=passphrase_env())
    return {"refusal_index": refusal["log_index"], "receipt": consent["receipt_path"],
            "consent_index": consent["log_index"]}


def test_dump_over_http_matches_dump_from_data_dir(team: Team, recorded: dict[str, str],
                                                   tmp_path: Path) -> None:
    live = team.live
    over_http = tmp_path / "http"
    result = live.as_("otto", "audit", "dump", "--server", live.base, "--out", str(over_http))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no progress bar in a pipe
    direct = tmp_path / "direct"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(direct))
    size = live.service.log_size()
    lines = (over_http / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == size + 1
    with live.service.reading() as session:
        leaves = live.service.log.entries(session, 0, size)
    assert lines[:-1] == list(leaves)  # exactly the leaf bytes, in log order
    direct_lines = (direct / "entries.jsonl").read_bytes().split(b"\n")
    assert direct_lines[:size] == lines[:size]
    note = (over_http / "checkpoint").read_text()
    assert note.split("\n")[0] == "test.exchange-consent/log"

    code, out, _ = _verify(over_http, live.vkey)
    assert code == 0
    assert f"Verified: {size} entries" in out
    assert "2 statements and 1 corroborations" in out
    code, out, _ = _verify(direct, live.vkey, "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_dump_over_http_needs_an_auditor(team: Team, tmp_path: Path) -> None:
    live = team.live
    result = live.as_("anna", "audit", "dump", "--server", live.base, "--out",
                      str(tmp_path / "x"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    both = live.cli("audit", "dump", "--server", live.base, "--data-dir", str(live.data_dir),
                    "--out", str(tmp_path / "y"))
    assert both.exit_code == 2


def _tamper(dump: Path, index: int) -> None:
    path = dump / "entries.jsonl"
    lines = path.read_bytes().split(b"\n")
    event = json.loads(lines[index])
    payload = json.loads(base64.b64decode(event["envelope"]["payload"]))
    payload["position"] = "withdraws"
    forged = canonical_bytes(payload)
    event["envelope"]["payload"] = base64.b64encode(forged).decode()
    event["statement_id"] = hashlib.sha256(forged).hexdigest()
    lines[index] = canonical_bytes(event)
    path.write_bytes(b"\n".join(lines))


def test_verify_names_the_first_bad_index(team: Team, recorded: dict[str, str],
                                          tmp_path: Path) -> None:
    live = team.live
    dump = tmp_path / "dump"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(dump))
    index = int(recorded["refusal_index"])

    tampered = tmp_path / "tampered"
    shutil.copytree(dump, tampered)
    _tamper(tampered, index)
    code, out, err = _verify(tampered, live.vkey)
    assert code == 1
    assert err.strip() == (f"Error: Verification FAILED: entry {index} carries a statement "
                           "signature that does not verify.")
    code, out, _ = _verify(tampered, live.vkey, "--json")
    assert code == 1 and json.loads(out)["index"] == index

    # An entry that is not a statement: only the root can tell, and it says where to look.
    other = tmp_path / "other"
    shutil.copytree(dump, other)
    lines = (other / "entries.jsonl").read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"tag"', b'"tag" ', 1)
    (other / "entries.jsonl").write_bytes(b"\n".join(lines))
    code, _, err = _verify(other, live.vkey)
    assert code == 1 and "before index" in err

    truncated = tmp_path / "truncated"
    shutil.copytree(dump, truncated)
    lines = (truncated / "entries.jsonl").read_bytes().split(b"\n")
    (truncated / "entries.jsonl").write_bytes(b"\n".join(lines[:-3]) + b"\n")
    code, _, err = _verify(truncated, live.vkey)
    assert code == 1 and "missing or extra" in err


def test_verify_usage_errors_exit_2(team: Team, tmp_path: Path) -> None:
    live = team.live
    dump = tmp_path / "dump"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(dump))
    assert _verify(dump, "not-a-key")[0] == 2
    assert _verify(tmp_path / "absent", live.vkey)[0] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _verify(empty, live.vkey)[0] == 2
    # A key file works as well as the key itself.
    key_file = tmp_path / "log.vkey"
    key_file.write_text(live.vkey + "\n")
    assert _verify(dump, str(key_file))[0] == 0
    # Another key: the checkpoint does not verify, which is a failure, not a usage error.
    other = audit.Signer("test.exchange-consent/log",
                         Ed25519PrivateKey.generate()).verifier.vkey
    code, _, err = _verify(dump, other)
    assert code == 1
    assert err.strip() == ("Error: Verification FAILED: the checkpoint is not a valid "
                           "checkpoint signed by this key.")


def test_trusted_checkpoint_and_consistency(team: Team, recorded: dict[str, str],
                                            tmp_path: Path) -> None:
    live = team.live
    old_dump = tmp_path / "old"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(old_dump))
    trusted = old_dump / "checkpoint"
    _add(team, "Pavel Orlov", "1985-06-23")  # the log grows
    new_dump = tmp_path / "new"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(new_dump))
    code, out, _ = _verify(new_dump, live.vkey, "--trusted", str(trusted))
    assert code == 0 and "extends the trusted checkpoint" in out
    # A rollback: the trusted checkpoint is newer than the dump.
    code, _, err = _verify(old_dump, live.vkey, "--trusted", str(new_dump / "checkpoint"))
    assert code == 1 and "newer than the log" in err

    fetched = live.ok("audit", "checkpoint", "--server", live.base, "--key", live.vkey,
                      "--trusted", str(trusted), "--json")
    body = json.loads(fetched.stdout)
    assert body["verified"] is True and body["size"] == live.service.log_size()
    assert body["consistent_with"]["size"] < body["size"]
    plain = live.ok("audit", "checkpoint", "--server", live.base)
    assert plain.stdout.startswith("test.exchange-consent/log\n")
    assert "Not verified" in plain.stderr
    key = live.ok("audit", "key", "--server", live.base).stdout.strip()
    assert key == live.vkey


def test_receipt_verify(team: Team, recorded: dict[str, str], tmp_path: Path) -> None:
    live = team.live
    dump = tmp_path / "dump"
    live.ok("audit", "dump", "--data-dir", str(live.data_dir), "--out", str(dump))
    receipt = recorded["receipt"]
    ok = CliRunner().invoke(app, ["receipt", "verify", receipt, "--key", live.vkey, "--dump",
                                  str(dump), "--json"])
    assert ok.exit_code == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["index"] == int(recorded["consent_index"])
    assert body["tag"] == "advocate:statement:recorded"

    entry = tmp_path / "entry.json"
    lines = (dump / "entries.jsonl").read_bytes().split(b"\n")
    entry.write_bytes(lines[int(recorded["refusal_index"])] + b"\n")
    wrong = CliRunner().invoke(app, ["receipt", "verify", receipt, "--key", live.vkey,
                                     "--entry", str(entry)])
    assert wrong.exit_code == 1
    assert "does NOT verify" in wrong.stderr
    alone = CliRunner().invoke(app, ["receipt", "verify", receipt, "--key", live.vkey])
    assert alone.exit_code in (0, 2)  # 0 once receipts carry their entry in 'extra'
