"""``POST /v1/lists/manifest``: a fresh TOTP code, refused as a whole, opaque, logged."""

from __future__ import annotations

import json

from consent import verify_manifest
from tests.api.conftest import Api
from tests.api.test_compiler_privacy import CONTEXT, Cast, _last_entry, cast, compiler
from tests.conftest import World

__all__ = ["cast", "compiler"]  # fixtures shared with the privacy tests


def _request(api: Api, headers: dict[str, str], ids: list[str], code: str) -> object:
    return api.client.post("/v1/lists/manifest", headers=headers,
                           json={"context": CONTEXT, "person_ids": ids, "code": code})


def test_a_manifest_for_eligible_persons_verifies_offline(api: Api, world: World, cast: Cast,
                                                          compiler: dict[str, str]) -> None:
    account = api.accounts["list-compiler"]
    api.clock.advance(seconds=30)
    response = _request(api, compiler, [cast.eligible.id], api.code(account.secret))
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    report = verify_manifest(response.content, api.service.vkey())  # type: ignore[attr-defined]
    assert report.ok
    entry = _last_entry(api.service, world)
    assert entry["tag"] == "compiler:list:manifest"
    assert entry["actor"] == account.actor.user_id


def test_the_code_is_required_fresh_and_single_use(api: Api, world: World, cast: Cast,
                                                   compiler: dict[str, str]) -> None:
    account = api.accounts["list-compiler"]
    # The code used to sign in a moment ago is already spent (replay rule by time step).
    spent = _request(api, compiler, [cast.eligible.id], api.code(account.secret))
    assert spent.status_code == 401  # type: ignore[attr-defined]
    api.clock.advance(seconds=30)
    fresh = api.code(account.secret)
    assert _request(api, compiler, [cast.eligible.id], fresh).status_code == 200  # type: ignore[attr-defined]
    assert _request(api, compiler, [cast.eligible.id], fresh).status_code == 401  # type: ignore[attr-defined]
    wrong = "000000" if fresh != "000000" else "111111"
    api.clock.advance(seconds=30)
    assert _request(api, compiler, [cast.eligible.id], wrong).status_code == 401  # type: ignore[attr-defined]
    events = api.security_events(account.actor.user_id)
    assert "auth:user:step_up_accepted" in events and "auth:user:step_up_failed" in events


def test_refused_as_a_whole_with_one_answer(api: Api, world: World, cast: Cast,
                                            compiler: dict[str, str]) -> None:
    account = api.accounts["list-compiler"]
    bodies = set()
    for reason, person in cast.others.items():
        api.clock.advance(seconds=30)
        response = _request(api, compiler, [cast.eligible.id, person.id],
                            api.code(account.secret))
        assert response.status_code == 422, reason  # type: ignore[attr-defined]
        body = response.json()  # type: ignore[attr-defined]
        bodies.add(json.dumps({k: v for k, v in body.items() if k != "instance"},
                              sort_keys=True))
        assert person.id not in response.text  # type: ignore[attr-defined]
        assert _last_entry(api.service, world)["tag"] == "compiler:list:manifest"
    assert len(bodies) == 1
