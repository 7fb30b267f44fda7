"""HTTP fixtures: an app over the shared ``service`` fixture, and accounts enrolled the way a
person would enrol (invitation, password, authenticator app, recovery codes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api import Settings, create_app
from api._totp import code_at, step_at
from consent import Actor, ConsentService
from consent._tables import User
from tests.conftest import Clock

PASSWORD = "correct horse battery staple, twice"
TEST_SECRET = SecretStr("k7Qy2fVd9LwX3pRmZt6NbE8hJcU4sGa1")


@dataclass
class Account:
    username: str
    password: str
    secret: str
    recovery_codes: list[str]
    actor: Actor


@dataclass
class Api:
    """A test client plus the service and clock behind it."""

    client: TestClient
    service: ConsentService
    clock: Clock
    admin: Actor
    organisation_id: str
    accounts: dict[str, Account] = field(default_factory=dict)

    def enrol(self, username: str, role: str, *, organisation_id: str | None = None,
              password: str = PASSWORD) -> Account:
        org = organisation_id
        if org is None and role in ("advocate", "compiler"):
            org = self.organisation_id
        user, invitation = self.service.invite_user(self.admin, username, role, org)
        started = self.client.post("/v1/auth/enroll",
                                   json={"invitation": invitation, "password": password})
        assert started.status_code == 200, started.text
        secret = started.json()["secret"]
        confirmed = self.client.post("/v1/auth/enroll/confirm",
                                     json={"invitation": invitation, "code": self.code(secret)})
        assert confirmed.status_code == 200, confirmed.text
        account = Account(username, password, secret, confirmed.json()["recovery_codes"],
                          Actor(user.id, role, org))  # type: ignore[arg-type]
        self.accounts[username] = account
        return account

    def code(self, secret: str, offset: int = 0) -> str:
        return code_at(secret, step_at(self.clock()) + offset)

    def login(self, account: Account) -> str:
        response = self.client.post("/v1/auth/login", json={"username": account.username,
                                                            "password": account.password})
        assert response.status_code == 200, response.text
        return str(response.json()["mfa_token"])

    def sign_in(self, account: Account) -> dict[str, str]:
        """Password then TOTP; moves the clock one step so the code is fresh."""
        self.clock.advance(seconds=30)
        mfa = self.login(account)
        response = self.client.post("/v1/auth/totp",
                                    json={"mfa_token": mfa, "code": self.code(account.secret)})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def security_events(self, user_id: str | None = None) -> list[str]:
        from sqlalchemy import select

        from consent._tables import SecurityEvent

        with self.service.reading() as session:
            query = select(SecurityEvent.tag).order_by(SecurityEvent.id)  # type: ignore[arg-type]
            if user_id is not None:
                query = query.where(SecurityEvent.user_id == user_id)  # type: ignore[arg-type]
            return list(session.execute(query).scalars())


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"secret_key": TEST_SECRET}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def api(service: ConsentService, clock: Clock, settings: Settings) -> Api:
    with service.transaction() as tx:
        row = User(id="00000000-0000-4000-8000-0000000000aa", username="operator",
                   role="admin", created_at=tx.now, enrolled_at=tx.now)
        tx.session.add(row)
    admin = Actor(row.id, "admin")
    organisation = service.create_organisation(admin, "Test organisation")
    client = TestClient(create_app(settings, service), base_url="http://testserver")
    return Api(client, service, clock, admin, organisation.id)
