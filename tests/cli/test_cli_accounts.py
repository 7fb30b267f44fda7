"""init, enroll (interactive, as a subprocess), login, logout, sessions, errors, --help."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from consent import open_instance
from consent.cli import app
from tests.cli.conftest import PASSWORD, Live, Person


def _commands(command: typer.main.TyperGroup | object, prefix: tuple[str, ...] = ()
              ) -> list[tuple[str, ...]]:
    found = [prefix]
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            found += _commands(sub, (*prefix, name))
    return found


def test_help_works_for_every_command() -> None:
    root = typer.main.get_command(app)
    paths = _commands(root)
    assert len(paths) > 30
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_command_tree_has_every_role() -> None:
    paths = {" ".join(p) for p in _commands(typer.main.get_command(app))}
    for expected in ("init", "serve", "demo", "enroll", "login", "logout",
                     "admin org create", "admin user invite", "admin user disable",
                     "admin user enable", "admin keys approve", "admin keys revoke",
                     "admin policy activate", "admin rotate-data-key", "admin backup",
                     "keys generate", "keys register", "persons add", "persons find",
                     "persons import", "record", "corroborate", "eligible", "vet",
                     "audit checkpoint", "audit dump", "audit verify", "receipt verify"):
        assert expected in paths


def test_init_prints_vkey_and_invitation(tmp_path: Path, database_url: str,
                                         database: object) -> None:
    data_dir = tmp_path / "instance"
    result = CliRunner().invoke(app, ["init", "--data-dir", str(data_dir), "--database-url",
                                      database_url])
    assert result.exit_code == 0, result.output
    service = open_instance(data_dir, env={})
    try:
        assert service.vkey() in result.stdout
    finally:
        service.db.dispose()
    assert re.search(r"invitation .*\n  \S{40,}\n", result.stdout)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    again = CliRunner().invoke(app, ["init", "--data-dir", str(data_dir)])
    assert again.exit_code == 1
    assert again.stderr.strip() == "Error: This directory already holds an instance."


def test_enroll_interactively_with_qr_and_recovery_codes(live: Live) -> None:
    """The real console script, typing the authenticator's first code after reading the
    secret it printed."""
    env = {**os.environ, "CONSENT_CONFIG_DIR": str(live.config_dir),
           "CONSENT_INVITATION": live.admin_invitation, "CONSENT_PASSWORD": PASSWORD}
    env.pop("CONSENT_TOTP_CODE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "consent.cli", "enroll", "--server", live.base],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        text=True)
    assert process.stdout is not None and process.stdin is not None
    seen = []
    secret = None
    for line in process.stdout:
        seen.append(line)
        if line.startswith("Secret: "):
            secret = line.split()[1]
            break
    assert secret is not None, "".join(seen)
    process.stdin.write(live.code(secret) + "\n")
    process.stdin.flush()
    rest, errors = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 0, (output, errors)
    assert "Account: admin" in output
    assert "█" in output or "▀" in output  # the QR code, drawn with block characters
    codes = re.findall(r"^\s+\d\. ([a-z2-7]{4}(?:-[a-z2-7]{4}){5})$", output, re.MULTILINE)
    assert len(codes) == 8
    assert "Enrolled as admin" in output

    # The second factor can be a recovery code; a used one does not work twice.
    live.next_step()
    result = live.cli("login", "--recovery-code",
                      env={"CONSENT_PASSWORD": PASSWORD, "CONSENT_RECOVERY_CODE": codes[0]})
    assert result.exit_code == 0, result.stderr
    assert f"Signed in to {live.base} as admin." in result.stdout
    again = live.cli("login", "--recovery-code",
                     env={"CONSENT_PASSWORD": PASSWORD, "CONSENT_RECOVERY_CODE": codes[0]})
    assert again.exit_code == 1
    assert again.stderr.strip() == "Error: The code is wrong or has already been used."


def test_login_keeps_a_private_session_and_logout_ends_it(live: Live, admin: Person) -> None:
    session_file = live.config_dir / "sessions" / "admin.json"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700
    assert live.as_("admin", "admin", "org", "list").exit_code == 0
    token_before = session_file.read_text()
    result = live.as_("admin", "logout")
    assert result.exit_code == 0 and "Signed out." in result.stdout
    assert token_before != session_file.read_text()
    denied = live.as_("admin", "admin", "org", "list")
    assert denied.exit_code == 1
    assert denied.stderr.strip() == "Error: You are not signed in: run 'consent login' first."


def test_a_revoked_session_is_one_clear_sentence(live: Live, admin: Person) -> None:
    session_file = live.config_dir / "sessions" / "admin.json"
    text = session_file.read_text()
    session_file.write_text(re.sub(r'"access_token": "[^"]+"',
                                   '"access_token": "not-a-real-token"', text))
    result = live.as_("admin", "admin", "org", "list")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: You are not signed in, or your session has ended: run "
                     "'consent login' again."]


def test_wrong_password_and_wrong_code(live: Live, admin: Person) -> None:
    live.next_step()
    wrong = live.cli("--server", live.base, "login", "-u", "admin",
                     env={"CONSENT_PASSWORD": "not the password at all",
                          "CONSENT_TOTP_CODE": "000000"})
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == "Error: The username or password is wrong."
    bad_code = live.cli("--server", live.base, "login", "-u", "admin",
                        env={"CONSENT_PASSWORD": PASSWORD, "CONSENT_TOTP_CODE": "12345x"})
    assert bad_code.exit_code == 1
    assert bad_code.stderr.count("\n") == 1


def test_unreachable_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--config-dir", str(tmp_path), "--server",
                                      "http://127.0.0.1:9", "login", "-u", "someone"],
                                env={"CONSENT_PASSWORD": "x" * 20, "CONSENT_TOTP_CODE": "1"})
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: Cannot reach the server at http://127.0.0.1:9: "
                                     "is it running?")


def test_not_a_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--config-dir", str(tmp_path), "--server",
                                      "file:///etc/passwd", "login", "-u", "someone"],
                                env={"CONSENT_PASSWORD": "x" * 20})
    assert result.exit_code == 1
    assert "http:// or https://" in result.stderr


@pytest.mark.parametrize("args", [["nonsense"], ["record"], ["audit", "verify"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(app, args).exit_code == 2
