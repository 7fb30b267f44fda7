"""The whole service over HTTP for the evidence tests: an instance, the app, and its users
enrolled and signed in through the real flow (invitation, password, TOTP)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api import Settings, code_at, create_app, step_at
from consent import ConsentService, open_instance
from tests.evidence.helpers import Instance

USERS = ("admin", "alice", "bob", "carol", "dave", "compiler", "auditor")
ROLE_USER = {"admin": "admin", "advocate": "alice", "compiler": "compiler",
             "auditor": "auditor"}
PASSWORD = "evidence under attack: a long, unguessable passphrase"


class OffsetClock:
    """Real time plus an offset that sign-ins move on by one TOTP step (no sleeping)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@dataclass
class Stack:
    instance: Instance
    service: ConsentService
    app: FastAPI
    client: TestClient
    clock: OffsetClock
    totp: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def code(self, name: str) -> str:
        return code_at(self.totp[name], step_at(self.clock()))

    def sign_in(self, name: str) -> str:
        """Password, then a TOTP code of a step not used before; returns a bearer token."""
        self.clock.advance(30)
        first = self.client.post("/v1/auth/login", json={"username": name,
                                                         "password": PASSWORD})
        assert first.status_code == 200, first.text
        second = self.client.post("/v1/auth/totp", json={"mfa_token": first.json()["mfa_token"],
                                                         "code": self.code(name)})
        assert second.status_code == 200, second.text
        return str(second.json()["access_token"])

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def close(self) -> None:
        self.client.close()
        self.service.db.dispose()


def build_stack(instance: Instance, **settings: Any) -> Stack:
    clock = OffsetClock()
    instance.service.db.dispose()
    service = open_instance(instance.data_dir, env=instance.env, clock=clock)
    instance.service = service
    values: dict[str, Any] = {
        "secret_key": SecretStr(secrets.token_urlsafe(32)),
        "docs_enabled": True,
        # The run moves the clock on by a TOTP step per sign-in; keep sessions alive.
        "session_idle": dt.timedelta(hours=11),
        "session_absolute": dt.timedelta(hours=12),
    }
    values.update(settings)
    app = create_app(Settings(**values), service)
    # Its own client address, so that failed sign-ins sent by a fuzzer (from "testclient")
    # do not lock the harness out.
    client = TestClient(app, base_url="http://testserver", client=("127.0.0.2", 50000))
    stack = Stack(instance, service, app, client, clock)
    for name in USERS:
        started = client.post("/v1/auth/enroll", json={
            "invitation": instance.invitations[name], "password": PASSWORD})
        assert started.status_code == 200, started.text
        stack.totp[name] = started.json()["secret"]
        confirmed = client.post("/v1/auth/enroll/confirm", json={
            "invitation": instance.invitations[name], "code": stack.code(name)})
        assert confirmed.status_code == 200, confirmed.text
    for name in USERS:
        stack.tokens[name] = stack.sign_in(name)
    return stack


WIDE = {"transfers": ["exchange", "expulsion"], "destinations": ["*"],
        "accepts_pardon_petition": True, "requires_documents_returned": False,
        "requires_family_may_accompany": False}
DE_ONLY = {"transfers": ["exchange"], "destinations": ["DE"],
           "accepts_pardon_petition": False, "requires_documents_returned": True,
           "requires_family_may_accompany": True}


def record(stack: Stack, person_id: str, position: str, *, signers: tuple[str, ...] = ("alice",),
           scope: dict[str, Any] | None = None, days_ago: int = 10, duress: bool = False,
           retracts: str | None = None) -> str:
    """Sign on the 'advocates' machines' and record through the core; returns the id."""
    from consent import build_payload, sign_envelope

    inst = stack.instance
    service = stack.service
    person = service.get_person(inst.alice, person_id)
    today = service.today()
    payload = build_payload(
        person_id=person.id, commitment=person.commitment, position=position,
        stated_on=today - dt.timedelta(days=days_ago), channel="letter",
        previous=person.latest_statement_id,
        scope=(scope or WIDE) if position == "consents" else None, retracts=retracts,
        duress_concern=duress, today=today)
    keys = {"alice": inst.alice_key, "bob": inst.bob_key}
    submitter = inst.alice if "alice" in signers else inst.bob
    return service.record_statement(
        submitter, sign_envelope(payload, *(keys[s] for s in signers))).statement_id


def seed_persons(stack: Stack) -> dict[str, str]:
    """Persons in every state the policy distinguishes; label -> person id."""
    inst, service = stack.instance, stack.service
    both = ("alice", "bob")
    out: dict[str, str] = {}

    def person(label: str, **kwargs: Any) -> str:
        out[label] = service.register_person(inst.alice, full_name=f"Seeded {label}",
                                             birth_date="1980-05-17", **kwargs).id
        return out[label]

    record(stack, person("eligible_wide"), "consents", signers=both)
    record(stack, person("eligible_de"), "consents", signers=both, scope=DE_ONLY)
    record(stack, person("refused"), "refuses")
    pid = person("withdrawn")
    record(stack, pid, "consents", signers=both, days_ago=20)
    record(stack, pid, "withdraws", days_ago=5)
    record(stack, person("one_signer"), "consents")
    record(stack, person("duress"), "consents", signers=both, duress=True)
    record(stack, person("released", status="released"), "consents", signers=both)
    record(stack, person("stale"), "consents", signers=both, days_ago=400)
    pid = person("retracted_consent")
    sid = record(stack, pid, "consents", signers=both, days_ago=20)
    record(stack, pid, "retracts", retracts=sid, days_ago=3)
    person("no_statement")
    return out
