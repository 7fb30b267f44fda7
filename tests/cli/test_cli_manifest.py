"""Signed manifests: ``consent manifest verify`` offline; ``export`` against the server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from consent import Actor
from consent.cli import app
from policies import ListContext
from tests.cli.conftest import Team, passphrase_env
from tests.cli.test_cli_roles import SCOPE_DE_LT, _add, _record


def _compiler(team: Team) -> Actor:
    users = {u.username: u for u in team.live.service.list_users(
        Actor(_user_id(team, "admin"), "admin"))}
    clara = users["clara"]
    return Actor(clara.id, "compiler", clara.organisation_id)


def _user_id(team: Team, username: str) -> str:
    from sqlalchemy import select

    from consent._tables import User

    with team.live.service.reading() as session:
        return str(session.execute(select(User.id).where(User.username == username))
                   .scalar_one())


def _eligible_person(team: Team) -> str:
    person = _add(team, "Daria Sokolova", "1991-11-02")
    _record(team, "anna", person, *SCOPE_DE_LT)
    team.live.ok("corroborate", person, "--yes", profile="boris", env=passphrase_env())
    return person


def test_manifest_verify_offline(team: Team, tmp_path: Path) -> None:
    person = _eligible_person(team)
    context = ListContext(transfer="exchange", destination="DE", requires_pardon_petition=False,
                          documents_returned=True, family_may_accompany=False)
    built = team.live.service.manifest(_compiler(team), context, [person])
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(built.data + b"\n")

    ok = CliRunner().invoke(app, ["manifest", "verify", str(manifest), "--key",
                                  team.live.vkey])
    assert ok.exit_code == 0, ok.output
    assert f"ok    person 0 {person} Daria Sokolova (1991-11-02): eligible" in ok.stdout
    assert "Verified: all 1 person(s) hold." in ok.stdout
    as_json = CliRunner().invoke(app, ["manifest", "verify", str(manifest), "--key",
                                       team.live.vkey, "--json"])
    assert json.loads(as_json.stdout)["persons"][0]["ok"] is True

    forged = tmp_path / "forged.json"
    forged.write_bytes(built.data.replace(b"Daria", b"Dasha", 1) if b"Daria" in built.data
                       else built.data[:-2] + b"x}")
    bad = CliRunner().invoke(app, ["manifest", "verify", str(forged), "--key", team.live.vkey])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: The manifest does NOT verify")
    usage = CliRunner().invoke(app, ["manifest", "verify", str(manifest), "--key", "nope"])
    assert usage.exit_code == 2


def test_manifest_export(team: Team, tmp_path: Path) -> None:
    live = team.live
    person = _eligible_person(team)
    refusing = _add(team, "Ilya Voronin", "1979-03-14")
    _record(team, "anna", refusing, "--position", "refuses")
    live.next_step()
    code = live.code(team.clara.secret)
    out = tmp_path / "exported.json"
    result = live.as_("clara", "manifest", "export", person, "--to", "DE",
                      "--documents-returned", "--out", str(out),
                      env={"CONSENT_TOTP_CODE": code})
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().endswith(b"}\n")
    verified = CliRunner().invoke(app, ["manifest", "verify", str(out), "--key", live.vkey])
    assert verified.exit_code == 0, verified.output

    # The same code twice is refused, as is a list with anyone not eligible (as a whole).
    replay = live.as_("clara", "manifest", "export", person, "--to", "DE",
                      "--documents-returned", "--out", str(tmp_path / "again.json"),
                      env={"CONSENT_TOTP_CODE": code})
    assert replay.exit_code == 1 and replay.stderr.count("\n") == 1
    live.next_step()
    eligible_csv = tmp_path / "list.csv"
    eligible_csv.write_text(f"person_id\n{person}\n{refusing}\n")
    refused = live.as_("clara", "manifest", "export", "--from", str(eligible_csv), "--to", "DE",
                       "--documents-returned", "--out", str(tmp_path / "refused.json"),
                       env={"CONSENT_TOTP_CODE": live.code(team.clara.secret)})
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: The manifest was refused")
    assert "Ilya" not in refused.stderr and refusing not in refused.stderr
    assert not (tmp_path / "refused.json").exists()
