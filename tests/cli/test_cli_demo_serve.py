"""``consent demo`` runs the whole story; ``consent serve`` serves an instance over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consent import open_instance
from consent.cli import app

STORY_LINES = [
    "An operator creates an instance and starts the service.",
    "Imported prisoners.csv: 4 added, 0 already registered.",
    "Imported prisoners.csv: 0 added, 4 already registered.",
    "Ilya Voronin     not eligible: refused",
    "Daria Sokolova   ELIGIBLE",
    "Pavel Orlov      not eligible: insufficient_signers",
    "Nina Belova      not eligible: withdrawn",
    "Daria Sokolova,1991-11-02,yes",
    "Ilya Voronin,1979-03-14,no",
    "Pavel Orlov,1985-06-23,no",
    "Nina Belova,1968-01-30,no",
    "Receipt verified:",
    "Verified: all 1 person(s) hold.",
    "(exit status 1)",
]


def _without_database_override() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CONSENT_DATABASE_URL"}


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    """The real console entry point, in a fresh process, exactly as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "consent.cli", "demo"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env=_without_database_override(), check=False)
    assert result.returncode == 0, (result.stdout, result.stderr)
    out = result.stdout
    for line in STORY_LINES:
        assert line in out, line
    # The compiler's list for (exchange, DE) is exactly the corroborated consent.
    eligible = out.split("consent --profile clara eligible")[1].split("A negotiator")[0]
    assert "Daria Sokolova" in eligible
    for name in ("Ilya Voronin", "Pavel Orlov", "Nina Belova"):
        assert name not in eligible
    assert "Verified: " in out
    assert "carries a statement signature that does not verify" in out
    refusal_index = out.split("Recorded at log index ")[1].split(".")[0]
    assert f"Verification FAILED: entry {refusal_index} " in out
    assert "The demo finished" in out


def test_demo_keep_leaves_an_instance_to_serve(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_DATABASE_URL", raising=False)
    kept = tmp_path / "kept"
    result = CliRunner().invoke(app, ["demo", "--keep", str(kept)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    service = open_instance(kept, env={})
    try:
        assert service.log_size() > 30
    finally:
        service.db.dispose()
    assert (kept / "demo-accounts.json").stat().st_mode & 0o077 == 0
    again = CliRunner().invoke(app, ["demo", "--keep", str(kept)])
    assert again.exit_code == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_over_http(tmp_path: Path, workers: int, database_url: str,
                                 database: object) -> None:
    data_dir = tmp_path / "instance"
    init = CliRunner().invoke(app, ["init", "--data-dir", str(data_dir), "--database-url",
                                    database_url])
    assert init.exit_code == 0, init.output
    port = _free_port()
    env = _without_database_override()
    process = subprocess.Popen(
        [sys.executable, "-m", "consent.cli", "serve", "--data-dir", str(data_dir), "--port",
         str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        key = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and key is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/audit/key",
                                            timeout=2) as answer:
                    key = answer.read().decode().strip()
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        assert key is not None, process.stdout.read() if process.stdout else ""
        service = open_instance(data_dir, env={})
        try:
            assert key == service.vkey()
        finally:
            service.db.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_refuses_a_directory_without_an_instance(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: No instance here: run 'consent init' first."
