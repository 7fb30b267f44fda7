"""The role table: every route, for every role and for no sign-in (issue 5, item 3).

A route missing from ``ROUTES`` fails the coverage test, so a new route cannot be served
without stating who may call it.
"""

from __future__ import annotations

import uuid

import pytest

from api import PROBLEM_MEDIA_TYPE
from tests.api.conftest import Api

ADMIN, ADVOCATE, COMPILER, AUDITOR = "admin", "advocate", "compiler", "auditor"
ROLES = (ADMIN, ADVOCATE, COMPILER, AUDITOR)
PUBLIC = "public"
EVERYONE_SIGNED_IN = frozenset(ROLES)

ROUTES: list[tuple[str, str, str | frozenset[str]]] = [
    ("GET", "/v1/healthz", PUBLIC),
    ("POST", "/v1/auth/login", PUBLIC),
    ("POST", "/v1/auth/totp", PUBLIC),
    ("POST", "/v1/auth/enroll", PUBLIC),
    ("POST", "/v1/auth/enroll/confirm", PUBLIC),
    ("POST", "/v1/auth/logout", EVERYONE_SIGNED_IN),
    ("POST", "/v1/organisations", frozenset({ADMIN})),
    ("GET", "/v1/organisations", frozenset({ADMIN})),
    ("POST", "/v1/users", frozenset({ADMIN})),
    ("GET", "/v1/users", frozenset({ADMIN})),
    ("POST", "/v1/users/{user_id}/disable", frozenset({ADMIN})),
    ("POST", "/v1/users/{user_id}/enable", frozenset({ADMIN})),
    ("GET", "/v1/keys", frozenset({ADMIN, ADVOCATE})),
    ("POST", "/v1/keys/{key_id}/approve", frozenset({ADMIN})),
    ("POST", "/v1/keys/{key_id}/revoke", frozenset({ADMIN})),
    ("POST", "/v1/policies/activate", frozenset({ADMIN})),
    ("POST", "/v1/persons", frozenset({ADVOCATE})),
    ("POST", "/v1/persons/import", frozenset({ADVOCATE})),
    ("GET", "/v1/persons", frozenset({ADVOCATE})),
    ("GET", "/v1/persons/{person_id}", frozenset({ADVOCATE})),
    ("GET", "/v1/persons/{person_id}/statements", frozenset({ADVOCATE})),
    ("GET", "/v1/persons/{person_id}/eligibility", frozenset({ADMIN, ADVOCATE})),
    ("POST", "/v1/keys", frozenset({ADVOCATE})),
    ("POST", "/v1/statements", frozenset({ADVOCATE})),
    ("POST", "/v1/statements/{statement_id}/signatures", frozenset({ADVOCATE})),
    ("POST", "/v1/lists/eligible", frozenset({COMPILER})),
    ("POST", "/v1/lists/vet", frozenset({COMPILER})),
    ("POST", "/v1/lists/manifest", frozenset({COMPILER})),
    ("GET", "/v1/audit/checkpoint", PUBLIC),
    ("GET", "/v1/audit/key", PUBLIC),
    ("GET", "/v1/audit/proof/consistency", PUBLIC),
    ("GET", "/v1/audit/entries", frozenset({AUDITOR})),
    ("GET", "/v1/audit/proof/inclusion", frozenset({AUDITOR})),
]

_FILL = {
    "{user_id}": str(uuid.uuid4()),
    "{person_id}": str(uuid.uuid4()),
    "{key_id}": "ab" * 32,
    "{statement_id}": "cd" * 32,
}


def _concrete(path: str) -> str:
    for placeholder, value in _FILL.items():
        path = path.replace(placeholder, value)
    return path


def test_the_table_names_every_route_once(api: Api) -> None:
    schema = api.client.app.openapi()  # type: ignore[attr-defined]
    served = {(method.upper(), path) for path, operations in schema["paths"].items()
              for method in operations}
    listed = [(method, path) for method, path, _roles in ROUTES]
    assert len(listed) == len(set(listed))
    assert served == set(listed)


def _call(api: Api, method: str, path: str, headers: dict[str, str],
          body: bytes = b"{}") -> int:
    response = api.client.request(method, _concrete(path), headers={
        **headers, "Content-Type": "application/json"}, content=body if method == "POST"
        else None)
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    return response.status_code


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_for_every_role(api: Api, role: str | None) -> None:
    headers: dict[str, str] = {}
    if role is not None:
        headers = api.sign_in(api.enrol(f"{role}-user", role))
    # Logout last: it ends the session the other calls use.
    for method, path, allowed in sorted(ROUTES, key=lambda r: r[1] == "/v1/auth/logout"):
        status = _call(api, method, path, headers)
        where = f"{method} {path} as {role}"
        if allowed == PUBLIC:
            assert status not in (401, 403), where
        elif role is None:
            assert status == 401, where
        elif role in allowed:
            assert status not in (401, 403), where
        else:
            assert status == 403, where


@pytest.mark.parametrize("role", [None, COMPILER])
def test_access_is_decided_before_the_body_is_read(api: Api, role: str | None) -> None:
    """A caller without the role gets 401/403 even for malformed JSON or a bad query, so
    validation errors teach an outsider nothing."""
    headers = {} if role is None else api.sign_in(api.enrol("c-user", role))
    expected = 401 if role is None else 403
    for method, path, allowed in ROUTES:
        if allowed == PUBLIC or (role is not None and role in allowed):
            continue
        assert _call(api, method, path + "?start=x&bogus=1", headers,
                     body=b'{"not json') == expected, path


def test_a_disabled_account_loses_its_session_at_once(api: Api) -> None:
    account = api.enrol("soon-disabled", ADVOCATE)
    headers = api.sign_in(account)
    assert api.client.get("/v1/keys", headers=headers).status_code == 200
    admin = api.sign_in(api.enrol("admin-2", ADMIN))
    response = api.client.post(f"/v1/users/{account.actor.user_id}/disable", headers=admin)
    assert response.status_code == 200
    assert api.client.get("/v1/keys", headers=headers).status_code == 401


def test_role_comes_from_the_session_not_the_request(api: Api) -> None:
    """Mass assignment: a body or header claiming a role or a user id changes nothing."""
    headers = api.sign_in(api.enrol("plain-advocate", ADVOCATE))
    forged = {**headers, "X-Role": "admin", "X-User-Id": api.admin.user_id}
    assert api.client.get("/v1/users", headers=forged).status_code == 403
    response = api.client.post("/v1/keys", headers=headers,
                               json={"public_key": "A" * 43 + "=", "user_id": api.admin.user_id})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
