"""Strict statement payload validation: each rule is a specific error, nothing else passes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from consent import InvalidStatement, canonical_bytes, parse_statement_payload

TODAY = dt.date(2026, 11, 1)


def base(position: str = "consents") -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "exchange-consent/statement/v1",
        "person": {"id": "0b5c3a4e-8f9d-4c2b-9a1e-2f3d4c5b6a79", "commitment": "cd" * 32},
        "position": position,
        "stated_on": "2026-10-01",
        "channel": "letter",
        "evidence": [{"sha256": "ab" * 32, "kind": "photo"}],
        "duress_concern": False,
        "previous": None,
    }
    if position == "consents":
        body["scope"] = {"transfers": ["exchange"], "destinations": ["DE"],
                         "accepts_pardon_petition": False, "requires_documents_returned": True,
                         "requires_family_may_accompany": False}
    if position == "retracts":
        body["retracts"] = "ef" * 32
    return body


@pytest.mark.parametrize("position", ["consents", "refuses", "withdraws", "retracts"])
def test_valid_payloads_parse(position: str) -> None:
    parsed = parse_statement_payload(canonical_bytes(base(position)), today=TODAY)
    assert parsed.position == position
    assert (parsed.scope is not None) == (position == "consents")


def mutate(path: str, value: Any, position: str = "consents") -> bytes:
    body = base(position)
    target = body
    *parents, last = path.split(".")
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return canonical_bytes(body)


CASES = [
    ("unknown_field", mutate("extra", 1)),
    ("unknown_field", mutate("scope.extra", True)),
    ("missing_field", mutate("channel", KeyError)),
    ("bad_position", mutate("position", "maybe")),
    ("bad_channel", mutate("channel", "pigeon")),
    ("bad_date", mutate("stated_on", "2026-13-01")),
    ("bad_date", mutate("stated_on", "01.10.2026")),
    ("future_date", mutate("stated_on", "2026-11-02")),
    ("bad_country", mutate("scope.destinations", ["XX"])),
    ("bad_country", mutate("scope.destinations", ["de"])),
    ("bad_country", mutate("scope.destinations", ["*", "DE"])),
    ("empty_transfers", mutate("scope.transfers", [])),
    ("bad_transfer", mutate("scope.transfers", ["kidnapping"])),
    ("bad_type", mutate("duress_concern", 0)),
    ("bad_type", mutate("scope.accepts_pardon_petition", "no")),
    ("bad_person_id", mutate("person.id", "not-a-uuid")),
    ("bad_person_id", mutate("person.id", "0b5c3a4e-8f9d-1c2b-9a1e-2f3d4c5b6a79")),
    ("bad_hash", mutate("person.commitment", "CD" * 32)),
    ("bad_hash", mutate("previous", "ab")),
    ("bad_statement_type", mutate("type", "other")),
    ("scope_on_non_consent", canonical_bytes({**base("refuses"), "scope": base()["scope"]})),
    ("missing_scope", mutate("scope", KeyError)),
    ("retracts_on_non_retraction", canonical_bytes({**base("refuses"), "retracts": "ab" * 32})),
    ("missing_field", mutate("retracts", KeyError, "retracts")),
    ("bad_evidence_kind", mutate("evidence", [{"sha256": "ab" * 32, "kind": "Two words"}])),
    ("not_canonical", json.dumps(base(), indent=1).encode()),
    ("not_json", b"\xff\xfe"),
    ("not_json", b'{"position":"refuses","position":"consents"}'),
]


@pytest.mark.parametrize(("code", "payload"), CASES, ids=[f"{c}-{i}" for i, (c, _) in
                                                         enumerate(CASES)])
def test_each_rule_is_a_specific_error(code: str, payload: bytes) -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse_statement_payload(payload, today=TODAY)
    assert caught.value.code == code


def test_error_messages_never_echo_values() -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse_statement_payload(mutate("channel", "SECRET-NAME-Ivanov"), today=TODAY)
    assert "Ivanov" not in str(caught.value)
