"""Every role's commands end to end against the live server: admin, advocate, compiler."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import stat
from pathlib import Path

from tests.cli.conftest import Team, passphrase_env

SCOPE_DE_LT = ["--position", "consents", "--transfer", "exchange", "--to", "DE", "--to", "LT",
               "--requires-documents-returned"]
CONTEXT_DE = ["--transfer", "exchange", "--to", "DE", "--documents-returned"]


def _today(days_ago: int = 0) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)).isoformat()


def _add(team: Team, name: str, born: str) -> str:
    result = team.live.as_("anna", "persons", "add", name, "--birth-date", born, "--json")
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout)["id"])


def _record(team: Team, who: str, person: str, *args: str, days_ago: int = 5) -> dict[str, str]:
    result = team.live.as_(who, "record", person, *args, "--stated-on", _today(days_ago),
                           "--channel", "lawyer_visit", "--yes", "--json",
                           env=passphrase_env())
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


# -- admin ----------------------------------------------------------------------------------

def test_admin_users_keys_and_policy(team: Team, tmp_path: Path) -> None:
    live = team.live
    users = json.loads(live.as_("admin", "admin", "user", "list", "--json").stdout)
    assert {u["username"] for u in users} == {"admin", "anna", "boris", "clara", "otto"}
    table = live.as_("admin", "admin", "user", "list").stdout
    assert table.splitlines()[0].split("\t") == ["id", "username", "role", "organisation",
                                                 "enrolled", "disabled"]

    assert "Disabled boris." in live.ok("admin", "user", "disable", "boris",
                                        profile="admin").stdout
    denied = live.as_("boris", "keys", "list")
    assert denied.exit_code == 1 and "consent login" in denied.stderr
    assert "Enabled boris." in live.ok("admin", "user", "enable", "boris",
                                       profile="admin").stdout

    keys = json.loads(live.as_("admin", "admin", "keys", "list", "--json").stdout)
    assert {k["state"] for k in keys} == {"approved"}
    revoked = live.ok("admin", "keys", "revoke", keys[0]["key_id"], profile="admin")
    assert "Revoked key" in revoked.stdout
    again = live.as_("admin", "admin", "keys", "revoke", keys[0]["key_id"])
    assert again.exit_code == 1
    assert again.stderr.strip() == "Error: This key is already revoked."
    short = live.as_("admin", "admin", "keys", "approve", "abc")
    assert short.exit_code == 2

    policy = tmp_path / "policy.toml"
    policy.write_text(Path("policies/explicit-consent.toml").read_text(encoding="utf-8"))
    activated = live.ok("admin", "policy", "activate", str(policy), "--json", profile="admin")
    assert json.loads(activated.stdout)["id"] == "explicit-consent"

    # Advocates cannot do admin work: one sentence from the server's problem document.
    forbidden = live.as_("anna", "admin", "org", "list")
    assert forbidden.exit_code == 1
    assert forbidden.stderr.startswith("Error: ") and forbidden.stderr.count("\n") == 1


def test_backup_and_data_key_rotation(team: Team, tmp_path: Path) -> None:
    live = team.live
    if "sqlite" not in live.service.db.url:
        result = live.cli("admin", "backup", "--data-dir", str(live.data_dir), "--out",
                          str(tmp_path / "b"))
        assert result.exit_code in (0, 1)  # pg_dump may be missing: one sentence then
        return
    out = tmp_path / "backup"
    result = live.ok("admin", "backup", "--data-dir", str(live.data_dir), "--out", str(out))
    assert "Backed up" in result.stdout
    import sqlite3

    copy = sqlite3.connect(out / "consent.sqlite3")
    try:
        (count,) = copy.execute("SELECT count(*) FROM log_entry").fetchone()
    finally:
        copy.close()
    assert count == live.service.log_size()
    assert not (out / "keys").exists()
    assert stat.S_IMODE((out / "consent.sqlite3").stat().st_mode) == 0o600
    exists = live.cli("admin", "backup", "--data-dir", str(live.data_dir), "--out", str(out))
    assert exists.exit_code == 2

    ring_before = (live.data_dir / "keys" / "data-keys.json").read_text()
    rotated = live.ok("admin", "rotate-data-key", "--data-dir", str(live.data_dir))
    assert "Added data key" in rotated.stdout
    assert (live.data_dir / "keys" / "data-keys.json").read_text() != ring_before


# -- advocate ------------------------------------------------------------------------------

def test_keys_generate_is_private_and_never_overwrites(team: Team) -> None:
    live = team.live
    path = live.config_dir / "keys" / "anna.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = live.as_("anna", "keys", "generate", env=passphrase_env())
    assert again.exit_code == 1 and "never overwritten" in again.stderr
    shown = live.ok("keys", "show", profile="anna").stdout
    listed = json.loads(live.ok("keys", "list", "--json", profile="anna").stdout)
    assert listed[0]["key_id"] in shown and listed[0]["state"] == "approved"


def test_record_shows_the_statement_and_asks(team: Team) -> None:
    live = team.live
    person = _add(team, "Daria Sokolova", "1991-11-02")
    declined = live.as_("anna", "record", person, *SCOPE_DE_LT, "--stated-on", _today(3),
                        "--channel", "lawyer_visit", env=passphrase_env(), input="n\n")
    assert declined.exit_code == 1
    assert "Daria Sokolova, born 1991-11-02" in declined.stdout
    assert '"position":"consents"' in declined.stdout  # the exact canonical bytes
    assert "Requires documents returned:         yes" in declined.stdout
    assert declined.stderr.strip() == "Error: Cancelled: nothing was signed or sent."
    shown = json.loads(live.as_("anna", "persons", "show", person, "--json").stdout)
    assert shown["statements"] == []

    accepted = live.as_("anna", "record", person, *SCOPE_DE_LT, "--stated-on", _today(3),
                        "--channel", "lawyer_visit", env=passphrase_env(), input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert "Recorded statement" in accepted.stdout
    receipt = Path(accepted.stdout.split("Receipt saved to ")[1].strip())
    assert receipt.read_text().startswith("c2sp.org/tlog-proof@v1\n")
    assert stat.S_IMODE(receipt.stat().st_mode) == 0o600


def test_wrong_passphrase_signs_nothing(team: Team) -> None:
    person = _add(team, "Pavel Orlov", "1985-06-23")
    result = team.live.as_("anna", "record", person, "--position", "refuses", "--stated-on",
                           _today(1), "--channel", "letter", "--yes",
                           env={"CONSENT_PASSPHRASE": "not it"})
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: The keystore could not be unlocked: wrong "
                                     "passphrase or damaged file.")


def test_evidence_is_hashed_locally(team: Team, tmp_path: Path) -> None:
    person = _add(team, "Ilya Voronin", "1979-03-14")
    letter = tmp_path / "letter.txt"
    letter.write_bytes(b"Do not include me in any exchange list.\n")
    import hashlib

    digest = hashlib.sha256(letter.read_bytes()).hexdigest()
    result = team.live.as_("anna", "record", person, "--position", "refuses", "--stated-on",
                           _today(2), "--channel", "letter", "--evidence",
                           f"letter={letter}", "--yes", env=passphrase_env())
    assert result.exit_code == 0, result.stderr
    assert f"letter: sha256 {digest}" in result.stdout
    statements = json.loads(team.live.as_("anna", "persons", "statements", person,
                                          "--json").stdout)
    assert statements[0]["position"] == "refuses"
    missing = team.live.as_("anna", "record", person, "--position", "refuses", "--stated-on",
                            _today(2), "--channel", "letter", "--evidence", "nope.pdf",
                            "--yes", env=passphrase_env())
    assert missing.exit_code == 2


def test_corroborate_and_eligibility(team: Team) -> None:
    live = team.live
    person = _add(team, "Daria Sokolova", "1991-11-02")
    recorded = _record(team, "anna", person, *SCOPE_DE_LT)
    before = json.loads(live.as_("anna", "persons", "eligibility", person, *CONTEXT_DE,
                                 "--json").stdout)
    assert before["eligible"] is False and before["reasons"] == ["insufficient_signers"]

    shown = live.as_("boris", "corroborate", person, env=passphrase_env(), input="y\n")
    assert shown.exit_code == 0, shown.stderr
    assert recorded["statement_id"] in shown.stdout
    assert "signed so far by 1 key(s)" in shown.stdout
    assert "Corroborated statement" in shown.stdout
    twice = live.as_("boris", "corroborate", person, "--yes", env=passphrase_env())
    assert twice.exit_code == 1
    assert twice.stderr.strip() == "Error: Your key has already signed this statement."
    after = live.ok("persons", "eligibility", person, *CONTEXT_DE, profile="anna").stdout
    assert after.startswith("eligible under policy explicit-consent")
    lithuania = live.ok("persons", "eligibility", person, "--to", "LT", profile="anna").stdout
    assert "not eligible (out_of_scope)" in lithuania


def test_persons_find_folds_scripts(team: Team) -> None:
    _add(team, "Ilya Voronin", "1979-03-14")
    found = json.loads(team.live.as_("anna", "persons", "find", "Илья Воронин",
                                     "--json").stdout)
    assert [p["full_name"] for p in found] == ["Ilya Voronin"]
    nobody = team.live.as_("anna", "persons", "find", "Nobody Here")
    assert nobody.exit_code == 0 and "Nobody registered" in nobody.stderr


def test_import_is_all_or_nothing_with_a_report(team: Team, tmp_path: Path) -> None:
    live = team.live
    bad = tmp_path / "bad.csv"
    bad.write_text("full_name,birth_date,status\n"
                   "Ilya Voronin,1979-03-14,imprisoned\n"
                   ",1980-01-01,imprisoned\n"
                   "Daria Sokolova,02.11.1991,imprisoned\n"
                   "Pavel Orlov,1985-06-23,jailed\n", encoding="utf-8")
    refused = live.as_("anna", "persons", "import", str(bad))
    assert refused.exit_code == 1
    assert "line 3:" in refused.stderr and "line 4:" in refused.stderr
    assert "line 5:" in refused.stderr and "line 2:" not in refused.stderr
    assert refused.stderr.strip().endswith("Error: 3 bad row(s) in bad.csv; nothing was "
                                           "imported.")
    assert json.loads(live.as_("anna", "persons", "find", "Ilya Voronin", "--json").stdout
                      ) == []
    as_json = live.as_("anna", "persons", "import", str(bad), "--json")
    assert as_json.exit_code == 1
    assert [e["line"] for e in json.loads(as_json.stdout)["errors"]] == [3, 4, 5]

    good = tmp_path / "good.csv"
    good.write_text("full_name,birth_date,aliases,location\n"
                    "Ilya Voronin,1979-03-14,Илья Воронин;I. Voronin,Colony 7\n"
                    "Daria Sokolova,1991-11-02,,\n"
                    "ILYA VORONIN,1979-03-14,,\n", encoding="utf-8")
    first = json.loads(live.ok("persons", "import", str(good), "--json",
                               profile="anna").stdout)
    assert (first["added"], first["already_present"]) == (2, 1)
    second = live.ok("persons", "import", str(good), profile="anna").stdout
    assert "0 added, 3 already registered" in second


# -- compiler ------------------------------------------------------------------------------

def _story(team: Team) -> dict[str, str]:
    ids = {name: _add(team, name, born) for name, born in (
        ("Ilya Voronin", "1979-03-14"), ("Daria Sokolova", "1991-11-02"),
        ("Pavel Orlov", "1985-06-23"), ("Nina Belova", "1968-01-30"))}
    _record(team, "anna", ids["Ilya Voronin"], "--position", "refuses")
    _record(team, "anna", ids["Daria Sokolova"], *SCOPE_DE_LT)
    team.live.ok("corroborate", ids["Daria Sokolova"], "--yes", profile="boris",
                 env=passphrase_env())
    _record(team, "boris", ids["Pavel Orlov"], *SCOPE_DE_LT)
    _record(team, "anna", ids["Nina Belova"], *SCOPE_DE_LT, days_ago=30)
    team.live.ok("corroborate", ids["Nina Belova"], "--yes", profile="boris",
                 env=passphrase_env())
    _record(team, "anna", ids["Nina Belova"], "--position", "withdraws", days_ago=3)
    return ids


def test_eligible_shows_only_the_corroborated_consent(team: Team) -> None:
    ids = _story(team)
    listed = json.loads(team.live.as_("clara", "eligible", *CONTEXT_DE, "--json").stdout)
    assert [p["person_id"] for p in listed] == [ids["Daria Sokolova"]]
    as_csv = team.live.ok("eligible", *CONTEXT_DE, "--csv", profile="clara").stdout
    rows = list(csv.reader(io.StringIO(as_csv)))
    assert rows == [["person_id", "full_name", "birth_date"],
                    [ids["Daria Sokolova"], "Daria Sokolova", "1991-11-02"]]
    # Without returned documents, Daria's condition is not met: nobody.
    strict = json.loads(team.live.as_("clara", "eligible", "--to", "DE", "--json").stdout)
    assert strict == []
    # A compiler cannot see reasons.
    denied = team.live.as_("clara", "persons", "eligibility", ids["Ilya Voronin"], "--to", "DE")
    assert denied.exit_code == 1


def test_vet_keeps_rows_and_order(team: Team, tmp_path: Path) -> None:
    ids = _story(team)
    draft = tmp_path / "draft.csv"
    daria = ids["Daria Sokolova"]
    draft.write_text("note,full_name,birth_date,person_id\n"
                     "a,Nina Belova,1968-01-30,\n"
                     f"b,,,{daria}\n"
                     "c,Ilya Voronin,1979-03-14,\n"
                     "d,Unknown Person,1970-01-01,\n"
                     "e,DARIA SOKOLOVA,1991-11-02,\n"
                     "f,Pavel Orlov,1985-06-23,\n", encoding="utf-8")
    out = tmp_path / "vetted.csv"
    result = team.live.as_("clara", "vet", str(draft), *CONTEXT_DE, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["note", "full_name", "birth_date", "person_id", "eligible"]
    assert [(r[0], r[-1]) for r in rows[1:]] == [("a", "no"), ("b", "yes"), ("c", "no"),
                                                 ("d", "no"), ("e", "yes"), ("f", "no")]
    piped = team.live.as_("clara", "vet", "-", *CONTEXT_DE, input=draft.read_text())
    assert piped.stdout == out.read_text()
    no_columns = tmp_path / "bad.csv"
    no_columns.write_text("name\nX\n")
    assert team.live.as_("clara", "vet", str(no_columns), "--to", "DE").exit_code == 2
