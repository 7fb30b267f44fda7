"""Sign-in attacks (issue 5, item 2): replayed codes, wrong-code bursts, the factor lock,
unknown users, stolen tokens after logout or expiry, recovery codes, invitations."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from sqlalchemy import select

from api import PasswordHasher, Settings, create_app
from api import _signin as signin_module
from api._totp import step_at
from consent._atrest import KeyRing
from consent._tables import AuthSession, RecoveryCode, User
from tests.api.conftest import PASSWORD, Account, Api, make_settings


def _second_factor(api: Api, mfa: str, **factor: str) -> Any:
    return api.client.post("/v1/auth/totp", json={"mfa_token": mfa, **factor})


def _wrong(api: Api, secret: str) -> str:
    """A well-formed code that is not valid anywhere in the window."""
    valid = {api.code(secret, offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222") if c not in valid)


def _user(api: Api, account: Account) -> User:
    with api.service.reading() as session:
        row = session.get(User, account.actor.user_id)
        assert row is not None
        return row


# -- TOTP replay --------------------------------------------------------------------------

def test_a_code_is_accepted_once(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    api.clock.advance(seconds=30)
    code = api.code(account.secret)
    first = _second_factor(api, api.login(account), code=code)
    assert first.status_code == 200
    replay = _second_factor(api, api.login(account), code=code)
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_code"
    assert "auth:user:totp_replayed" in api.security_events(account.actor.user_id)


def test_an_older_step_is_refused_after_a_newer_one(api: Api) -> None:
    """The window is one step either side, but never a step at or below the last one."""
    account = api.enrol("alice", "advocate")
    api.clock.advance(seconds=30)
    assert _second_factor(api, api.login(account),
                          code=api.code(account.secret, +1)).status_code == 200
    for offset in (0, -1, +1):
        response = _second_factor(api, api.login(account), code=api.code(account.secret, offset))
        assert response.status_code == 401, offset


def test_the_window_is_one_step_either_side(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    api.clock.advance(seconds=300)
    assert _second_factor(api, api.login(account),
                          code=api.code(account.secret, -2)).status_code == 401
    assert _second_factor(api, api.login(account),
                          code=api.code(account.secret, +2)).status_code == 401
    assert _second_factor(api, api.login(account),
                          code=api.code(account.secret, -1)).status_code == 200


def test_the_step_is_stored_with_a_conditional_update(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    api.sign_in(account)
    assert _user(api, account).totp_last_step == step_at(api.clock())


# -- throttling ---------------------------------------------------------------------------

def test_a_burst_of_wrong_codes_is_throttled_before_verifying(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    account = api.enrol("alice", "advocate")
    limit = Settings().throttle_account_failures
    verified: list[str] = []
    original = signin_module.matching_step

    def counting(secret: str, code: str, now: Any) -> int | None:
        verified.append(code)
        return original(secret, code, now)

    monkeypatch.setattr(signin_module, "matching_step", counting)
    api.clock.advance(seconds=30)
    mfa = api.login(account)
    for _ in range(limit):
        assert _second_factor(api, mfa, code=_wrong(api, account.secret)).status_code == 401
    # Over the limit: refused without verifying, even with the right code.
    throttled = _second_factor(api, mfa, code=api.code(account.secret))
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_attempts"
    assert "retry-after" in throttled.headers
    assert len(verified) == limit
    assert _user(api, account).totp_failures == limit
    events = api.security_events(account.actor.user_id)
    assert events.count("auth:user:totp_failed") == limit
    assert "auth:user:login_throttled" in events
    # A throttled account is refused at the password step too, even with the right password.
    assert api.client.post("/v1/auth/login", json={
        "username": account.username, "password": account.password}).status_code == 429
    api.clock.advance(minutes=16)
    api.sign_in(account)


def test_wrong_passwords_are_throttled_per_account(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    limit = Settings().throttle_account_failures
    for _ in range(limit):
        response = api.client.post("/v1/auth/login", json={"username": "alice",
                                                           "password": "wrong password!!"})
        assert response.status_code == 401
    assert api.client.post("/v1/auth/login", json={
        "username": "alice", "password": account.password}).status_code == 429
    # Another account from the same address is not locked by alice's failures...
    bob = api.enrol("bob", "advocate")
    api.sign_in(bob)


def test_wrong_passwords_are_throttled_per_address(service: Any, clock: Any) -> None:
    settings = make_settings(throttle_address_failures=5)
    client = _client(service, settings)
    for number in range(5):
        response = client.post("/v1/auth/login", json={"username": f"nobody{number}",
                                                       "password": "wrong password!!"})
        assert response.status_code == 401
    response = client.post("/v1/auth/login", json={"username": "somebody-else",
                                                    "password": "wrong password!!"})
    assert response.status_code == 429


def _client(service: Any, settings: Settings) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(create_app(settings, service), base_url="http://testserver")


# -- the factor lock ----------------------------------------------------------------------

@pytest.fixture
def lenient(service: Any, clock: Any, api: Api) -> Api:
    """The same service behind an app whose throttles stay out of the way."""
    settings = make_settings(throttle_account_failures=10_000, throttle_address_failures=10_000)
    return Api(_client(service, settings), service, clock, api.admin, api.organisation_id)


def test_one_hundred_failures_lock_the_factor_until_an_admin_re_enables(lenient: Api) -> None:
    api = lenient
    account = api.enrol("alice", "advocate")
    api.clock.advance(seconds=30)
    mfa = api.login(account)
    right = {api.code(account.secret, offset) for offset in (-1, 0, 1)}
    wrong = [c for c in (f"{n:06d}" for n in range(200)) if c not in right][:100]
    for code in wrong:
        assert _second_factor(api, mfa, code=code).status_code == 401
    row = _user(api, account)
    assert row.totp_locked and row.totp_failures == 100
    locked = _second_factor(api, mfa, code=api.code(account.secret))
    assert locked.status_code == 403
    assert locked.json()["code"] == "second_factor_locked"
    assert _second_factor(api, api.login(account),
                          recovery_code=account.recovery_codes[0]).status_code == 403
    assert "auth:user:mfa_locked" in api.security_events(account.actor.user_id)

    admin = api.sign_in(api.enrol("root", "admin"))
    enabled = api.client.post(f"/v1/users/{account.actor.user_id}/enable", headers=admin)
    assert enabled.status_code == 200
    api.sign_in(account)


def test_a_success_resets_the_consecutive_count(lenient: Api) -> None:
    api = lenient
    account = api.enrol("alice", "advocate")
    for _ in range(3):
        mfa = api.login(account)
        for _ in range(40):
            _second_factor(api, mfa, code=_wrong(api, account.secret))
        api.clock.advance(seconds=30)
        assert _second_factor(api, mfa, code=api.code(account.secret)).status_code == 200
    assert not _user(api, account).totp_locked


# -- unknown users ------------------------------------------------------------------------

def _argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    calls: list[tuple[int, int, int]] = []
    original = PasswordHasher._kdf

    def spy(self: PasswordHasher, salt: bytes, memory: int, iterations: int, lanes: int,
            length: int) -> Any:
        calls.append((memory, iterations, lanes))
        return original(self, salt, memory, iterations, lanes, length)

    monkeypatch.setattr(PasswordHasher, "_kdf", spy)
    return calls


def test_an_unknown_user_gets_the_same_answer_and_the_same_work(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.enrol("alice", "advocate")
    invited, _token = api.service.invite_user(api.admin, "not-enrolled", "auditor", None)
    disabled = api.enrol("disabled-user", "auditor")
    api.service.set_user_disabled(api.admin, disabled.actor.user_id, True)
    calls = _argon2_calls(monkeypatch)

    answers = []
    for username, password in (("alice", "not alices password"),
                               ("nobody-at-all", "not alices password"),
                               ("not-enrolled", "not alices password"),
                               ("disabled-user", PASSWORD)):
        calls.clear()
        response = api.client.post("/v1/auth/login",
                                   json={"username": username, "password": password})
        answers.append((response.status_code, response.content,
                        response.headers["content-type"]))
        # Exactly one Argon2id derivation, at the full parameters, whoever asked.
        assert calls == [(19 * 1024, 2, 1)], username
    assert len(set(answers)) == 1
    assert answers[0][0] == 401
    assert invited.enrolled is False


def test_argon2id_parameters_are_at_least_owasp_minimum(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    stored = _user(api, account).password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    with pytest.raises(ValueError, match="OWASP"):
        PasswordHasher(memory_kib=16 * 1024)
    with pytest.raises(ValueError, match="OWASP"):
        PasswordHasher(iterations=1)


# -- sessions -----------------------------------------------------------------------------

def test_a_token_is_refused_after_logout(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    headers = api.sign_in(account)
    assert api.client.get("/v1/keys", headers=headers).status_code == 200
    assert api.client.post("/v1/auth/logout", headers=headers).status_code == 204
    response = api.client.get("/v1/keys", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert api.client.post("/v1/auth/logout", headers=headers).status_code == 401


def test_a_token_is_refused_after_idle_expiry(api: Api) -> None:
    headers = api.sign_in(api.enrol("alice", "advocate"))
    api.clock.advance(minutes=29)
    assert api.client.get("/v1/keys", headers=headers).status_code == 200
    api.clock.advance(minutes=29)  # activity moved the idle deadline
    assert api.client.get("/v1/keys", headers=headers).status_code == 200
    api.clock.advance(minutes=30, seconds=1)
    assert api.client.get("/v1/keys", headers=headers).status_code == 401


def test_a_token_is_refused_after_absolute_expiry(api: Api) -> None:
    headers = api.sign_in(api.enrol("alice", "advocate"))
    for _ in range(12 * 3 - 1):
        api.clock.advance(minutes=20)
        assert api.client.get("/v1/keys", headers=headers).status_code == 200
    api.clock.advance(minutes=20)  # 12 hours after sign-in, however active
    assert api.client.get("/v1/keys", headers=headers).status_code == 401


def test_every_sign_in_gets_a_new_random_token_stored_hashed(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    first, second = api.sign_in(account), api.sign_in(account)
    tokens = [h["Authorization"].removeprefix("Bearer ") for h in (first, second)]
    assert tokens[0] != tokens[1]
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, url-safe base64
    with api.service.reading() as session:
        stored = set(session.execute(select(AuthSession.token_hash)).scalars())
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}


def test_a_sign_in_challenge_is_single_use_and_short_lived(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    api.clock.advance(seconds=30)
    mfa = api.login(account)
    assert _second_factor(api, mfa, code=api.code(account.secret)).status_code == 200
    api.clock.advance(seconds=30)
    reused = _second_factor(api, mfa, code=api.code(account.secret))
    assert reused.status_code == 401 and reused.json()["code"] == "invalid_challenge"
    late = api.login(account)
    api.clock.advance(minutes=6)
    assert _second_factor(api, late, code=api.code(account.secret)).status_code == 401


def test_exactly_one_second_factor(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    mfa = api.login(account)
    both = _second_factor(api, mfa, code="123456", recovery_code=account.recovery_codes[0])
    assert both.status_code == 422
    assert _second_factor(api, mfa).status_code == 422


# -- recovery codes -----------------------------------------------------------------------

def test_recovery_codes_are_eight_hashed_and_single_use(api: Api) -> None:
    account = api.enrol("alice", "advocate")
    assert len(account.recovery_codes) == 8 == len(set(account.recovery_codes))
    with api.service.reading() as session:
        hashes = list(session.execute(select(RecoveryCode.code_hash).where(
            RecoveryCode.user_id == account.actor.user_id)).scalars())  # type: ignore[arg-type]
    assert len(hashes) == 8
    assert not any(code in h or code.replace("-", "") in h
                   for code in account.recovery_codes for h in hashes)
    code = account.recovery_codes[3]
    used = _second_factor(api, api.login(account), recovery_code=code.upper())
    assert used.status_code == 200
    headers = {"Authorization": f"Bearer {used.json()['access_token']}"}
    assert api.client.get("/v1/keys", headers=headers).status_code == 200
    again = _second_factor(api, api.login(account), recovery_code=code)
    assert again.status_code == 401
    assert "auth:user:recovery_code_used" in api.security_events(account.actor.user_id)


# -- enrolment ----------------------------------------------------------------------------

def test_enrolment_gives_an_otpauth_uri_and_an_encrypted_160_bit_secret(api: Api) -> None:
    _user_record, invitation = api.service.invite_user(api.admin, "carol", "auditor", None)
    response = api.client.post("/v1/auth/enroll",
                               json={"invitation": invitation, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "carol"
    assert len(body["secret"]) == 32  # base32: 160 bits
    assert body["otpauth_uri"].startswith("otpauth://totp/exchange-consent:carol?secret=")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    with api.service.reading() as session:
        row = session.execute(select(User).where(User.username == "carol")  # type: ignore[arg-type]
                              ).scalar_one()
    assert row.totp_secret is not None
    assert body["secret"].encode() not in bytes(row.totp_secret)
    ring: KeyRing = api.service.data_keys
    assert ring.decrypt(bytes(row.totp_secret), table="app_user", column="totp_secret",
                        row_id=row.id) == body["secret"].encode()
    assert row.enrolled_at is None  # not signed in until confirmed


def test_an_invitation_is_single_use(api: Api) -> None:
    _user_record, invitation = api.service.invite_user(api.admin, "carol", "auditor", None)
    started = api.client.post("/v1/auth/enroll",
                              json={"invitation": invitation, "password": PASSWORD})
    secret = started.json()["secret"]
    wrong = api.client.post("/v1/auth/enroll/confirm",
                            json={"invitation": invitation, "code": _wrong(api, secret)})
    assert wrong.status_code == 401
    confirmed = api.client.post("/v1/auth/enroll/confirm",
                                json={"invitation": invitation, "code": api.code(secret)})
    assert confirmed.status_code == 200
    for path, body in (("/v1/auth/enroll", {"invitation": invitation, "password": PASSWORD}),
                       ("/v1/auth/enroll/confirm",
                        {"invitation": invitation, "code": api.code(secret, 1)})):
        again = api.client.post(path, json=body)
        assert again.status_code == 400
        assert again.json()["code"] == "invalid_invitation"
    # The code used to confirm cannot be replayed at sign-in either.
    mfa = api.client.post("/v1/auth/login", json={"username": "carol", "password": PASSWORD}
                          ).json()["mfa_token"]
    assert _second_factor(api, mfa, code=api.code(secret)).status_code == 401


def test_an_expired_or_unknown_invitation_is_refused(api: Api) -> None:
    _user_record, invitation = api.service.invite_user(api.admin, "carol", "auditor", None)
    api.clock.advance(days=8)
    for token in (invitation, "no-such-invitation"):
        response = api.client.post("/v1/auth/enroll",
                                   json={"invitation": token, "password": PASSWORD})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_invitation"


@pytest.mark.parametrize(("password", "rule"), [
    ("short pass!", "password_too_short"),
    ("x" * 60 + "yz" * 35, "password_too_long"),
    ("Password1234", "password_common"),
    ("qwertyuiop123", "password_common"),
    ("abcabcabcabc", "password_common"),
    ("my name is carol, hi", "password_contains_username"),
    ("my name is CAROL, hi", "password_contains_username"),
])
def test_the_password_policy(api: Api, password: str, rule: str) -> None:
    _user_record, invitation = api.service.invite_user(api.admin, "carol", "auditor", None)
    response = api.client.post("/v1/auth/enroll",
                               json={"invitation": invitation, "password": password})
    assert response.status_code == 422
    assert response.json()["rule"] == rule
    assert password not in response.text


@pytest.mark.parametrize("password", ["twelve chars", "ÄÖÜ lowercase only", "123498761234x"])
def test_no_composition_rules(api: Api, password: str) -> None:
    _user_record, invitation = api.service.invite_user(api.admin, "carol", "auditor", None)
    response = api.client.post("/v1/auth/enroll",
                               json={"invitation": invitation, "password": password})
    assert response.status_code == 200


# -- events -------------------------------------------------------------------------------

def test_every_outcome_is_an_event_without_secrets(api: Api,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consent.security")
    account = api.enrol("alice", "advocate")
    api.client.post("/v1/auth/login", json={"username": "alice", "password": "wrong guess 123"})
    api.client.post("/v1/auth/login", json={"username": "ghost", "password": "wrong guess 123"})
    api.clock.advance(seconds=30)
    mfa = api.login(account)
    _second_factor(api, mfa, code=_wrong(api, account.secret))
    code = api.code(account.secret)
    _second_factor(api, mfa, code=code)
    tags = api.security_events()
    for tag in ("auth:user:enrolled", "auth:user:login_failed", "auth:user:password_accepted",
                "auth:user:totp_failed", "auth:user:login_succeeded"):
        assert tag in tags
    assert all(tag.count(":") == 2 and tag.startswith("auth:") for tag in tags)
    logged = caplog.text
    for secret in (PASSWORD, "wrong guess 123", code, account.secret, "ghost", "alice", mfa):
        assert secret not in logged
    assert len(caplog.records) == len(tags)
