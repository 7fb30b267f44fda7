"""Compiler privacy (issue 5, item 4; DESIGN section 3, principle 1).

A compiler sees eligible persons only; ``vet`` answers a refusal, an unknown person, a
malformed candidate and every other ineligibility with the same status and the same bytes;
every compiler request is a log entry naming the compiler and the hash of what was returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from consent import ConsentService, PersonRecord
from tests.api.conftest import Api
from tests.conftest import World
from tests.consent.helpers import SCOPE_DE_LT, statement

CONTEXT = {"transfer": "exchange", "destination": "DE", "requires_pardon_petition": False,
           "documents_returned": True, "family_may_accompany": False}


@dataclass
class Cast:
    eligible: PersonRecord
    others: dict[str, PersonRecord]


def _person(service: ConsentService, world: World, name: str, born: str,
            status: str = "imprisoned") -> PersonRecord:
    return service.register_person(world.alice.actor, full_name=name, birth_date=born,
                                   status=status)


@pytest.fixture
def cast(world: World) -> Cast:
    service = world.service
    alice, bob = world.alice.keys[0], world.bob.keys[0]
    eligible = _person(service, world, "Eligible Evgenia", "1971-01-01")
    service.record_statement(world.alice.actor, statement(service, eligible, "consents",
                                                          alice, bob))
    others = {
        "refused": _person(service, world, "Refusing Roman", "1972-02-02"),
        "no_statement": _person(service, world, "Silent Sergei", "1973-03-03"),
        "insufficient_signers": _person(service, world, "Single Svetlana", "1974-04-04"),
        "out_of_scope": _person(service, world, "Lithuania Lev", "1975-05-05"),
        "duress_concern": _person(service, world, "Pressured Pavel", "1976-06-06"),
        "not_imprisoned": _person(service, world, "Released Rita", "1977-07-07",
                                  status="released"),
        "withdrawn": _person(service, world, "Withdrawing Wanda", "1978-08-08"),
    }
    service.record_statement(world.alice.actor,
                             statement(service, others["refused"], "refuses", alice))
    service.record_statement(world.alice.actor, statement(
        service, others["insufficient_signers"], "consents", alice))
    service.record_statement(world.alice.actor, statement(
        service, others["out_of_scope"], "consents", alice, bob,
        scope={**SCOPE_DE_LT, "destinations": ["LT"]}))
    service.record_statement(world.alice.actor, statement(
        service, others["duress_concern"], "consents", alice, bob, duress=True))
    service.record_statement(world.alice.actor, statement(
        service, others["not_imprisoned"], "consents", alice, bob))
    service.record_statement(world.alice.actor, statement(
        service, others["withdrawn"], "consents", alice, bob))
    service.record_statement(world.alice.actor, statement(
        service, others["withdrawn"], "withdraws", alice, stated_on=dt.date(2026, 10, 15)))
    return Cast(eligible, others)


@pytest.fixture
def compiler(api: Api, world: World) -> dict[str, str]:
    return api.sign_in(api.enrol("list-compiler", "compiler",
                                 organisation_id=world.compiler.organisation_id))


def _last_entry(service: ConsentService, world: World) -> dict[str, Any]:
    size = service.log_size()
    (leaf,) = service.entries(world.auditor, size - 1, size)
    return dict(json.loads(leaf))


def _user_id(api: Api, name: str) -> str:
    return api.accounts[name].actor.user_id


def test_the_advocate_view_has_every_reason(api: Api, world: World, cast: Cast) -> None:
    """The contrast: an advocate sees why; the compiler below never does."""
    headers = api.sign_in(api.enrol("advocate-view", "advocate"))
    for reason, person in cast.others.items():
        response = api.client.get(f"/v1/persons/{person.id}/eligibility", headers=headers,
                                  params=CONTEXT)
        assert response.status_code == 200, response.text
        assert reason in response.json()["reasons"]
    response = api.client.get(f"/v1/persons/{cast.eligible.id}/eligibility", headers=headers,
                              params=CONTEXT)
    assert response.json()["eligible"] is True


def test_eligible_lists_only_eligible_persons(api: Api, world: World, cast: Cast,
                                              compiler: dict[str, str]) -> None:
    response = api.client.post("/v1/lists/eligible", headers=compiler,
                               json={"context": CONTEXT})
    assert response.status_code == 200
    assert response.json() == [{"person_id": cast.eligible.id,
                                "full_name": "Eligible Evgenia", "birth_date": "1971-01-01"}]
    text = response.text.lower()
    for person in cast.others.values():
        assert person.id not in response.text
        assert person.identity.full_name.split()[0].lower() not in text
    for word in ("reason", "count", "total", "refus", "ineligible", "policy"):
        assert word not in text


def test_eligible_is_logged_with_the_hash_of_the_bytes_returned(
        api: Api, world: World, cast: Cast, compiler: dict[str, str]) -> None:
    response = api.client.post("/v1/lists/eligible", headers=compiler,
                               json={"context": CONTEXT})
    entry = _last_entry(api.service, world)
    assert entry["tag"] == "compiler:list:eligible"
    assert entry["actor"] == _user_id(api, "list-compiler")
    assert entry["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert {k: v for k, v in entry["context"].items() if k != "as_of"} == CONTEXT
    assert "Evgenia" not in json.dumps(entry)


def _vet(api: Api, headers: dict[str, str], candidates: list[Any]) -> Any:
    return api.client.post("/v1/lists/vet", headers=headers,
                           json={"context": CONTEXT, "candidates": candidates})


def _not_eligible_candidates(cast: Cast) -> dict[str, Any]:
    refused = cast.others["refused"]
    candidates: dict[str, Any] = {
        f"{reason} by id": {"person_id": person.id} for reason, person in cast.others.items()
    }
    candidates.update({
        "refused by name": {"full_name": refused.identity.full_name,
                            "birth_date": refused.identity.birth_date.isoformat()
                            if refused.identity.birth_date else None},
        "refused by folded name": {"full_name": "refusing ROMAN", "birth_date": "1972-02-02"},
        "unknown id": {"person_id": str(uuid.uuid4())},
        "unknown name": {"full_name": "Nobody Known", "birth_date": "1970-01-01"},
        "eligible name, wrong birth date": {"full_name": "Eligible Evgenia",
                                            "birth_date": "1999-09-09"},
        "id of the wrong type": {"person_id": 5},
        "id with an extra member": {"person_id": cast.eligible.id, "note": "x"},
        "empty object": {},
        "a string": "Eligible Evgenia",
        "a number": 7,
        "null": None,
        "a list": [cast.eligible.id],
        "a malformed date": {"full_name": "Refusing Roman", "birth_date": "02/02/1972"},
        "not a uuid": {"person_id": "../../etc/passwd"},
        "an impossible date": {"full_name": "Refusing Roman", "birth_date": "1972-02-30"},
        "a name without letters": {"full_name": "!!! ???", "birth_date": "1972-02-02"},
        "an empty name": {"full_name": "", "birth_date": "1972-02-02"},
        "a very long name": {"full_name": "R" * 5000},
        "a name that is not text": {"full_name": ["Refusing", "Roman"]},
    })
    return candidates


def test_vet_gives_identical_bytes_for_every_kind_of_no(api: Api, world: World, cast: Cast,
                                                       compiler: dict[str, str]) -> None:
    answers = {}
    for label, candidate in _not_eligible_candidates(cast).items():
        response = _vet(api, compiler, [candidate])
        answers[label] = (response.status_code, response.content,
                          response.headers["content-type"], response.headers["content-length"])
    assert len(set(answers.values())) == 1, answers
    status, body, _type, _length = next(iter(answers.values()))
    assert status == 200
    assert body == b'[{"eligible":false}]'


def test_vet_says_yes_only_for_the_eligible(api: Api, world: World, cast: Cast,
                                           compiler: dict[str, str]) -> None:
    by_id = _vet(api, compiler, [{"person_id": cast.eligible.id}])
    by_name = _vet(api, compiler, [{"full_name": "eligible  evgenia",
                                    "birth_date": "1971-01-01"}])
    assert by_id.content == by_name.content == b'[{"eligible":true}]'


def test_vet_answers_in_order_with_no_reasons(api: Api, world: World, cast: Cast,
                                             compiler: dict[str, str]) -> None:
    noes = list(_not_eligible_candidates(cast).values())
    candidates = [*noes[:5], {"person_id": cast.eligible.id}, *noes[5:]]
    response = _vet(api, compiler, candidates)
    assert response.status_code == 200
    assert response.json() == [{"eligible": c == {"person_id": cast.eligible.id}}
                               for c in candidates]
    entry = _last_entry(api.service, world)
    assert entry["tag"] == "compiler:list:vetted"
    assert entry["actor"] == _user_id(api, "list-compiler")
    assert entry["result_sha256"] == hashlib.sha256(response.content).hexdigest()
    for person in cast.others.values():
        assert person.id not in json.dumps(entry)


def test_every_compiler_request_is_a_log_entry(api: Api, world: World, cast: Cast,
                                               compiler: dict[str, str]) -> None:
    before = api.service.log_size()
    _vet(api, compiler, [{"person_id": cast.others["refused"].id}])
    _vet(api, compiler, ["garbage"])
    api.client.post("/v1/lists/eligible", headers=compiler, json={"context": CONTEXT})
    assert api.service.log_size() == before + 3


def test_a_bad_context_is_refused_without_logging_or_echo(api: Api, world: World,
                                                          compiler: dict[str, str]) -> None:
    before = api.service.log_size()
    for context in ({**CONTEXT, "destination": "ZQX"}, {**CONTEXT, "extra": True},
                    {k: v for k, v in CONTEXT.items() if k != "documents_returned"}):
        response = api.client.post("/v1/lists/vet", headers=compiler,
                                   json={"context": context, "candidates": []})
        assert response.status_code == 422
        assert "ZQX" not in response.text
    assert api.service.log_size() == before
