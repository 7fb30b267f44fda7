"""A live server on a free local port, and the ``consent`` command run against it.

The instance lives in a temporary data directory whose database is the test database
(``CONSENT_TEST_DATABASE_URL``, SQLite when unset). The server's clock is settable: each
sign-in moves it one TOTP step, so codes are fresh without waiting.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from api._totp import code_at, step_at
from consent import ConsentService, Database, init_instance, open_instance
from consent.cli import app
from consent.cli._demo import serving
from consent.cli._http import Client
from tests.conftest import Clock

PASSWORD = "a long and unguessable passphrase"
PASSPHRASE = "keystore passphrase for tests"


@dataclass
class Person:
    username: str
    role: str
    password: str = PASSWORD
    secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)


@dataclass
class Live:
    base: str
    data_dir: Path
    config_dir: Path
    vkey: str
    clock: Clock
    service: ConsentService
    admin_invitation: str
    people: dict[str, Person] = field(default_factory=dict)

    # -- running the command ------------------------------------------------------------

    def cli(self, *args: str, env: Mapping[str, str | None] | None = None,
            input: str | None = None, profile: str | None = None) -> Result:
        environment: dict[str, str | None] = {
            "CONSENT_CONFIG_DIR": str(self.config_dir), "CONSENT_SERVER": None,
            "CONSENT_PROFILE": profile, "CONSENT_PASSWORD": None, "CONSENT_TOTP_CODE": None,
            "CONSENT_PASSPHRASE": None, "CONSENT_INVITATION": None,
            "CONSENT_RECOVERY_CODE": None, "CONSENT_DATABASE_URL": None,
        }
        environment.update(env or {})
        return CliRunner().invoke(app, list(args), env=environment, input=input,
                                  catch_exceptions=False)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self.cli(*args, **kwargs)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    # -- time and codes -----------------------------------------------------------------

    def code(self, secret: str, offset: int = 0) -> str:
        return code_at(secret, step_at(self.clock()) + offset)

    def next_step(self) -> None:
        self.clock.advance(seconds=30)

    # -- accounts -----------------------------------------------------------------------

    def enrol_api(self, person: Person, invitation: str) -> Person:
        """Enrol over HTTP directly (the CLI's own enrol is tested separately)."""
        api = Client(self.base)
        started = api.post("/auth/enroll", {"invitation": invitation,
                                            "password": person.password}, auth=False)
        person.secret = started["secret"]
        confirmed = api.post("/auth/enroll/confirm",
                             {"invitation": invitation, "code": self.code(person.secret)},
                             auth=False)
        person.recovery_codes = confirmed["recovery_codes"]
        self.people[person.username] = person
        return person

    def login(self, person: Person) -> Result:
        self.next_step()
        return self.ok("--server", self.base, "login", "--username", person.username,
                       profile=person.username,
                       env={"CONSENT_PASSWORD": person.password,
                            "CONSENT_TOTP_CODE": self.code(person.secret)})

    def as_(self, username: str, *args: str, **kwargs: Any) -> Result:
        return self.cli(*args, profile=username, **kwargs)


@pytest.fixture
def live(database: Database, database_url: str, tmp_path: Path) -> Iterator[Live]:
    data_dir = tmp_path / "instance"
    service, invitation = init_instance(data_dir, database_url=database_url, env={},
                                        origin="test.exchange-consent/log")
    vkey = service.vkey()
    service.db.dispose()
    clock = Clock(dt.datetime.now(dt.UTC))
    served = open_instance(data_dir, env={}, clock=clock)
    with serving(served, data_dir) as base:
        yield Live(base, data_dir, tmp_path / "clients", vkey, clock, served, invitation)
    served.db.dispose()


@pytest.fixture
def admin(live: Live) -> Person:
    person = live.enrol_api(Person("admin", "admin"), live.admin_invitation)
    live.login(person)
    return person


@dataclass
class Team:
    live: Live
    admin: Person
    anna: Person
    boris: Person
    clara: Person
    otto: Person
    orgs: dict[str, str]


@pytest.fixture
def team(live: Live, admin: Person) -> Team:
    """Two organisations; advocates anna and boris with approved keys; compiler clara; auditor
    otto. Everyone signed in through ``consent login``."""
    orgs = {}
    for name in ("Northern Legal Aid", "Letters to Prisoners"):
        result = live.as_("admin", "admin", "org", "create", name, "--json")
        assert result.exit_code == 0, result.stderr
        orgs[name] = json.loads(result.stdout)["id"]
    people = {}
    for username, role, org in (("anna", "advocate", "Northern Legal Aid"),
                                ("boris", "advocate", "Letters to Prisoners"),
                                ("clara", "compiler", "Northern Legal Aid"),
                                ("otto", "auditor", None)):
        args = ["admin", "user", "invite", username, "--role", role, "--json"]
        if org:
            args += ["--org", org]
        result = live.as_("admin", *args)
        assert result.exit_code == 0, result.stderr
        invitation = json.loads(result.stdout)["invitation"]
        people[username] = live.enrol_api(Person(username, role), invitation)
        live.login(people[username])
    for username in ("anna", "boris"):
        env = {"CONSENT_PASSPHRASE": PASSPHRASE}
        live.ok("keys", "generate", profile=username, env=env)
        result = live.ok("keys", "register", "--json", profile=username)
        key_id = json.loads(result.stdout)["key_id"]
        live.ok("admin", "keys", "approve", key_id[:12], profile="admin")
    return Team(live, admin, people["anna"], people["boris"], people["clara"], people["otto"],
                orgs)


def passphrase_env() -> dict[str, str]:
    return {"CONSENT_PASSPHRASE": PASSPHRASE}

