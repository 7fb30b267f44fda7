"""Sign-in, second factor, sessions and enrolment.

Each step has the same shape: (1) in one serialised write transaction, count the attempt
against its throttles (refusing, without verifying anything, if a throttle is locked) and
take a snapshot of what is needed; (2) verify outside any transaction (Argon2id is slow);
(3) in a second write transaction, record the outcome: a security event always, and on
success un-count the attempt and change state with conditional updates. Failures are
committed before the error is raised, so nothing a failure counts is ever rolled back.

A TOTP code is accepted once: its time step is stored with
``UPDATE app_user SET totp_last_step = :step WHERE id = :id AND totp_last_step < :step``,
and only a row count of one accepts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlmodel import Session

from api._events import record_event
from api._passwords import PasswordHasher, WeakPasswordError, check_password_policy
from api._problems import ProblemError
from api._settings import Settings
from api._throttle import ThrottleRule, clear, release, reserve
from api._tokens import (
    RECOVERY_CODE_COUNT,
    hash_recovery_code,
    hash_token,
    keyed_hash,
    new_recovery_code,
    new_token,
)
from api._totp import matching_step, new_secret, provisioning_uri
from consent import Actor, ConsentService
from consent._tables import (
    AuthSession,
    Invitation,
    MfaChallenge,
    RecoveryCode,
    User,
)

__all__ = ["Enrolment", "IssuedToken", "SignIn"]

MAX_TOKEN_CHARS = 256
_TOTP = ("app_user", "totp_secret")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    username: str
    secret: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class _Account:
    user_id: str
    username: str
    role: str
    organisation_id: str | None
    totp_secret: bytes | None
    totp_locked: bool


def _account(user: User) -> _Account:
    return _Account(user.id, user.username, user.role, user.organisation_id,
                    bytes(user.totp_secret) if user.totp_secret is not None else None,
                    user.totp_locked)


def _unauthenticated(detail: str = "Sign in first.") -> ProblemError:
    return ProblemError(401, "not_authenticated", detail, headers={"WWW-Authenticate": "Bearer"})


def _factor_locked() -> ProblemError:
    return ProblemError(403, "second_factor_locked",
                        "The second factor is locked after too many failures; "
                        "an administrator must re-enable the account.")


class SignIn:
    """Every authentication step. Time comes from the service's clock."""

    def __init__(self, service: ConsentService, settings: Settings, hasher: PasswordHasher,
                 secret: bytes) -> None:
        self.service = service
        self.settings = settings
        self.hasher = hasher
        self._secret = secret

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.service.clock

    # -- helpers ------------------------------------------------------------------------

    def address_hash(self, address: str) -> str:
        return keyed_hash(self._secret, "address", address)

    def _account_rule(self, username: str) -> ThrottleRule:
        return ThrottleRule("acct:" + keyed_hash(self._secret, "username", username.casefold()),
                            self.settings.throttle_account_failures)

    def _address_rule(self, address_hash: str) -> ThrottleRule:
        return ThrottleRule("addr:" + address_hash, self.settings.throttle_address_failures)

    def _reserve(self, session: Session, rules: list[ThrottleRule], now: dt.datetime) -> bool:
        return reserve(session, rules, now, window=self.settings.throttle_window,
                       lockout=self.settings.throttle_lockout)

    def _throttled(self) -> ProblemError:
        seconds = int(self.settings.throttle_lockout.total_seconds())
        return ProblemError(429, "too_many_attempts", "Too many failed attempts; try again later.",
                       headers={"Retry-After": str(seconds)})

    def _decrypt_secret(self, account: _Account) -> str:
        assert account.totp_secret is not None
        return self.service.data_keys.decrypt(account.totp_secret, table=_TOTP[0],
                                              column=_TOTP[1], row_id=account.user_id
                                              ).decode("ascii")

    # -- password -----------------------------------------------------------------------

    def login(self, username: str, password: str, address_hash: str) -> str:
        """Check the password; return a short-lived single-use sign-in challenge token.

        An unknown, disabled or not yet enrolled account does the same Argon2id work
        against a dummy hash and gets the same answer as a wrong password.
        """
        now = self.clock()
        rules = [self._account_rule(username), self._address_rule(address_hash)]
        with self.service.db.write() as session:
            allowed = self._reserve(session, rules, now)
            user = session.execute(
                select(User).where(User.username == username)  # type: ignore[arg-type]
            ).scalar_one_or_none()
            user_id = user.id if user is not None else None
            usable = (user is not None and not user.disabled and user.enrolled_at is not None
                      and user.totp_secret is not None)
            stored = user.password_hash if user is not None and usable else None
            if not allowed:
                record_event(session, "auth:user:login_throttled", user_id=user_id,
                             address_hash=address_hash, now=now)
        if not allowed:
            raise self._throttled()
        ok = self.hasher.verify(stored, password)
        token = new_token()
        with self.service.db.write() as session:
            if ok and user_id is not None:
                release(session, rules)
                session.add(MfaChallenge(token_hash=hash_token(token), user_id=user_id,
                                         expires_at=now + self.settings.mfa_challenge_ttl))
                record_event(session, "auth:user:password_accepted", user_id=user_id,
                             address_hash=address_hash, now=now)
            else:
                tag = ("auth:user:login_failed" if user is None or usable
                       else "auth:user:login_refused")
                record_event(session, tag, user_id=user_id, address_hash=address_hash,
                             now=now)
        if not ok:
            raise ProblemError(401, "invalid_credentials", "The username or password is wrong.")
        return token

    # -- second factor ------------------------------------------------------------------

    def second_factor(self, mfa_token: str, *, code: str | None, recovery_code: str | None,
                      address_hash: str) -> IssuedToken:
        """A TOTP code or a recovery code against a sign-in challenge; a new session."""
        now = self.clock()
        challenge = hash_token(mfa_token)
        rules = [self._address_rule(address_hash)]
        with self.service.db.write() as session:
            row = session.get(MfaChallenge, challenge)
            user = session.get(User, row.user_id) if row is not None else None
            if user is not None:
                rules.append(self._account_rule(user.username))
            allowed = self._reserve(session, rules, now)
            valid = (row is not None and row.used_at is None and row.expires_at > now
                     and user is not None and not user.disabled
                     and user.enrolled_at is not None and user.totp_secret is not None)
            account = _account(user) if user is not None and valid else None
            user_id = user.id if user is not None else None
            if not allowed:
                record_event(session, "auth:user:login_throttled", user_id=user_id,
                             address_hash=address_hash, now=now)
            elif account is None:
                record_event(session, "auth:user:mfa_challenge_invalid", user_id=user_id,
                             address_hash=address_hash, now=now)
            elif account.totp_locked:
                record_event(session, "auth:user:mfa_locked_refused", user_id=user_id,
                             address_hash=address_hash, now=now)
        if not allowed:
            raise self._throttled()
        if account is None:
            raise ProblemError(401, "invalid_challenge",
                          "The sign-in challenge is invalid or expired; sign in again.")
        if account.totp_locked:
            raise _factor_locked()

        step = None
        recovery_hash = None
        if code is not None:
            step = matching_step(self._decrypt_secret(account), code, now)
        elif recovery_code is not None:
            recovery_hash = hash_recovery_code(recovery_code)

        issued: IssuedToken | None = None
        with self.service.db.write() as session:
            current = session.get(MfaChallenge, challenge)
            if current is None or current.used_at is not None or current.expires_at <= now:
                # A concurrent request used the challenge first.
                record_event(session, "auth:user:mfa_challenge_invalid",
                             user_id=account.user_id, address_hash=address_hash, now=now)
                stale = True
            else:
                stale = False
                accepted, tag = self._accept_factor(session, account.user_id, step,
                                                    recovery_hash, now)
                if accepted:
                    current.used_at = now
                    session.add(current)
                    issued = self._new_session(session, account.user_id, now)
                    clear(session, rules[1].key)
                    release(session, rules[:1])
                    record_event(session, tag, user_id=account.user_id,
                                 address_hash=address_hash, now=now)
                    record_event(session, "auth:user:login_succeeded",
                                 user_id=account.user_id, address_hash=address_hash, now=now)
                else:
                    self._count_factor_failure(session, account.user_id, now, address_hash)
                    record_event(session, tag, user_id=account.user_id,
                                 address_hash=address_hash, now=now)
        if stale:
            raise ProblemError(401, "invalid_challenge",
                          "The sign-in challenge is invalid or expired; sign in again.")
        if issued is None:
            raise ProblemError(401, "invalid_code", "The code is wrong or has already been used.")
        return issued

    def step_up(self, user_id: str, code: str, address_hash: str) -> None:
        """A fresh TOTP code for one sensitive request (a signed manifest), or a problem.

        The same rules as sign-in: throttled before verifying, counted on every failure,
        the replay rule by time step, the lock after too many failures, an event for every
        outcome. Recovery codes are not accepted here: they are for getting back in.
        """
        now = self.clock()
        with self.service.db.write() as session:
            user = session.get(User, user_id)
            if user is None or user.totp_secret is None:
                raise _unauthenticated()
            rules = [self._address_rule(address_hash), self._account_rule(user.username)]
            allowed = self._reserve(session, rules, now)
            account = _account(user)
            if not allowed:
                record_event(session, "auth:user:step_up_throttled", user_id=user_id,
                             address_hash=address_hash, now=now)
            elif account.totp_locked:
                record_event(session, "auth:user:mfa_locked_refused", user_id=user_id,
                             address_hash=address_hash, now=now)
        if not allowed:
            raise self._throttled()
        if account.totp_locked:
            raise _factor_locked()
        step = matching_step(self._decrypt_secret(account), code, now)
        with self.service.db.write() as session:
            accepted, _tag = self._accept_factor(session, user_id, step, None, now)
            if accepted:
                release(session, rules)
                record_event(session, "auth:user:step_up_accepted", user_id=user_id,
                             address_hash=address_hash, now=now)
            else:
                self._count_factor_failure(session, user_id, now, address_hash)
                record_event(session, "auth:user:step_up_failed", user_id=user_id,
                             address_hash=address_hash, now=now)
        if not accepted:
            raise ProblemError(401, "invalid_code", "The code is wrong or has already been used.")

    def _accept_factor(self, session: Session, user_id: str, step: int | None,
                       recovery_hash: str | None, now: dt.datetime) -> tuple[bool, str]:
        if step is not None:
            result = session.execute(
                update(User)
                .where(User.id == user_id)  # type: ignore[arg-type]
                .where(User.totp_last_step < step)  # type: ignore[arg-type]
                .where(User.totp_locked == False)  # type: ignore[arg-type]  # noqa: E712
                .values(totp_last_step=step, totp_failures=0)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True, "auth:user:totp_accepted"
            return False, "auth:user:totp_replayed"
        if recovery_hash is not None:
            result = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.user_id == user_id)  # type: ignore[arg-type]
                .where(RecoveryCode.code_hash == recovery_hash)  # type: ignore[arg-type]
                .where(RecoveryCode.used_at == None)  # type: ignore[arg-type]  # noqa: E711
                .values(used_at=now)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                session.execute(update(User).where(
                    User.id == user_id).values(totp_failures=0))  # type: ignore[arg-type]
                return True, "auth:user:recovery_code_used"
            return False, "auth:user:recovery_code_failed"
        return False, "auth:user:totp_failed"

    def _count_factor_failure(self, session: Session, user_id: str, now: dt.datetime,
                              address_hash: str) -> None:
        user = session.get(User, user_id)
        if user is None:
            return
        user.totp_failures += 1
        if user.totp_failures >= self.settings.totp_lock_after and not user.totp_locked:
            user.totp_locked = True
            record_event(session, "auth:user:mfa_locked", user_id=user_id,
                         address_hash=address_hash, now=now)
        session.add(user)
        session.flush()

    # -- sessions -----------------------------------------------------------------------

    def _new_session(self, session: Session, user_id: str, now: dt.datetime) -> IssuedToken:
        token = new_token()
        session.add(AuthSession(token_hash=hash_token(token), user_id=user_id, created_at=now,
                                last_seen_at=now,
                                expires_at=now + self.settings.session_absolute))
        session.flush()
        return IssuedToken(token, int(self.settings.session_idle.total_seconds()))

    def authenticate(self, token: str) -> Actor:
        """The actor behind a bearer token, or 401. Idle and absolute expiry, revocation,
        and a disabled account all end a session."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise _unauthenticated()
        now = self.clock()
        digest = hash_token(token)
        with self.service.db.read() as session:
            row = session.get(AuthSession, digest)
            user = session.get(User, row.user_id) if row is not None else None
            if (row is None or user is None or row.revoked_at is not None
                    or now >= row.expires_at or now - row.last_seen_at > self.settings.session_idle
                    or user.disabled or user.enrolled_at is None):
                raise _unauthenticated("The session is invalid or has expired; sign in again.")
            actor = Actor(user.id, user.role, user.organisation_id)  # type: ignore[arg-type]
            touch = now - row.last_seen_at >= self.settings.session_touch_interval
        if touch:
            with self.service.db.write() as session:
                session.execute(
                    update(AuthSession)
                    .where(AuthSession.token_hash == digest)  # type: ignore[arg-type]
                    .where(AuthSession.revoked_at == None)  # type: ignore[arg-type]  # noqa: E711
                    .where(AuthSession.last_seen_at < now)  # type: ignore[arg-type]
                    .values(last_seen_at=now)
                )
        return actor

    def logout(self, token: str, address_hash: str) -> None:
        now = self.clock()
        with self.service.db.write() as session:
            row = session.get(AuthSession, hash_token(token))
            if row is not None and row.revoked_at is None:
                row.revoked_at = now
                session.add(row)
                record_event(session, "auth:user:logout", user_id=row.user_id,
                             address_hash=address_hash, now=now)

    # -- enrolment ----------------------------------------------------------------------

    def _invitation(self, session: Session, invitation: str, now: dt.datetime
                    ) -> tuple[Invitation | None, User | None]:
        row = session.get(Invitation, hash_token(invitation))
        user = session.get(User, row.user_id) if row is not None else None
        if (row is None or user is None or row.used_at is not None or row.expires_at <= now
                or user.enrolled_at is not None or user.disabled):
            return None, user
        return row, user

    def _invalid_invitation(self) -> ProblemError:
        return ProblemError(400, "invalid_invitation",
                            "The invitation is invalid, used or expired.")

    def begin_enrolment(self, invitation: str, password: str, address_hash: str) -> Enrolment:
        """Set the password and a new TOTP secret; the invitation stays usable until
        :meth:`confirm_enrolment` proves the authenticator app holds the secret."""
        now = self.clock()
        rules = [self._address_rule(address_hash)]
        with self.service.db.write() as session:
            allowed = self._reserve(session, rules, now)
            row, user = self._invitation(session, invitation, now)
            account = _account(user) if user is not None and row is not None else None
            if not allowed:
                record_event(session, "auth:user:enrolment_throttled", user_id=None,
                             address_hash=address_hash, now=now)
            elif account is None:
                record_event(session, "auth:user:invitation_invalid",
                             user_id=user.id if user is not None else None,
                             address_hash=address_hash, now=now)
            else:
                release(session, rules)
        if not allowed:
            raise self._throttled()
        if account is None:
            raise self._invalid_invitation()
        try:
            check_password_policy(password, account.username)
        except WeakPasswordError as exc:
            raise ProblemError(422, "weak_password", str(exc), extra={"rule": exc.code}) from None
        encoded = self.hasher.hash(password)
        secret = new_secret()
        blob = self.service.data_keys.encrypt(secret.encode("ascii"), table=_TOTP[0],
                                              column=_TOTP[1], row_id=account.user_id)
        with self.service.db.write() as session:
            row, user = self._invitation(session, invitation, now)
            if row is not None and user is not None:
                user.password_hash, user.totp_secret = encoded, blob
                user.totp_last_step, user.totp_failures, user.totp_locked = 0, 0, False
                session.add(user)
                record_event(session, "auth:user:enrolment_started", user_id=user.id,
                             address_hash=address_hash, now=now)
        if row is None:
            raise self._invalid_invitation()
        return Enrolment(account.username, secret,
                         provisioning_uri(secret, account.username, self.settings.totp_issuer))

    def confirm_enrolment(self, invitation: str, code: str, address_hash: str) -> list[str]:
        """Prove the authenticator works; use up the invitation; return recovery codes once."""
        now = self.clock()
        rules = [self._address_rule(address_hash)]
        with self.service.db.write() as session:
            allowed = self._reserve(session, rules, now)
            row, user = self._invitation(session, invitation, now)
            account = (_account(user) if user is not None and row is not None
                       and user.totp_secret is not None and user.password_hash else None)
            if not allowed:
                record_event(session, "auth:user:enrolment_throttled", user_id=None,
                             address_hash=address_hash, now=now)
            elif account is None:
                record_event(session, "auth:user:invitation_invalid",
                             user_id=user.id if user is not None else None,
                             address_hash=address_hash, now=now)
        if not allowed:
            raise self._throttled()
        if account is None:
            raise self._invalid_invitation()
        step = matching_step(self._decrypt_secret(account), code, now)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        done = False
        with self.service.transaction() as tx:
            session = tx.session
            used = None
            if step is not None:
                used = session.execute(
                    update(Invitation)
                    .where(Invitation.token_hash == hash_token(invitation))  # type: ignore[arg-type]
                    .where(Invitation.used_at == None)  # type: ignore[arg-type]  # noqa: E711
                    .where(Invitation.expires_at > now)  # type: ignore[arg-type]
                    .values(used_at=now)
                ).rowcount  # type: ignore[attr-defined]
            if used == 1:
                session.execute(
                    update(User)
                    .where(User.id == account.user_id)  # type: ignore[arg-type]
                    .values(totp_last_step=step, enrolled_at=now, totp_failures=0,
                            totp_locked=False)
                )
                session.execute(delete(RecoveryCode).where(
                    RecoveryCode.user_id == account.user_id))  # type: ignore[arg-type]
                for text in codes:
                    session.add(RecoveryCode(user_id=account.user_id,
                                             code_hash=hash_recovery_code(text)))
                session.flush()
                release(session, rules)
                actor = Actor(account.user_id, account.role,  # type: ignore[arg-type]
                              account.organisation_id)
                tx.log("admin:user:enrolled", actor, user_id=account.user_id)
                record_event(session, "auth:user:enrolled", user_id=account.user_id,
                             address_hash=address_hash, now=now)
                done = True
            else:
                record_event(session, "auth:user:enrolment_code_failed",
                             user_id=account.user_id, address_hash=address_hash, now=now)
        if not done:
            raise ProblemError(401, "invalid_code", "The code is wrong or has already been used.")
        return codes

