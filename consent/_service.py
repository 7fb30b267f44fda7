"""The service operations: verify, store and log in one transaction.

:class:`ConsentService` is the one door to the domain. Each method checks the actor's role
(deny by default, whatever the caller already checked), does its work in one transaction
and, for every state change and every compiler read, appends to the transparency log in that
same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from audit import Signer, Verifier
from audit.storage import LogStore
from consent import _keys, _statements
from consent._atrest import KeyRing
from consent._blindindex import BlindIndex
from consent._canonical import canonical_bytes, sha256_hex
from consent._db import Database
from consent._eligibility import SignatureChecker, decide, evaluate_rows, key_states
from consent._envelope import Envelope, Signature
from consent._errors import Conflict, InvalidInput, NotFound
from consent._manifest import BuiltManifest, ManifestRefused, build_manifest
from consent._persons import Identity, ImportReport, PersonBook, PersonRecord, parse_identity
from consent._tables import (
    Invitation,
    Organisation,
    Person,
    PolicyActivation,
    User,
)
from consent._tx import ROLES, Actor, Tx, require_role
from policies import Decision, ListContext, Policy, default_policy, parse_policy

__all__ = ["ConsentService", "OrganisationRecord", "Receipt", "UserRecord", "utcnow"]

MAX_ENTRIES_PER_PAGE = 1000
INVITATION_LIFETIME = dt.timedelta(days=7)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class OrganisationRecord:
    id: str
    name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    role: str
    organisation_id: str | None
    disabled: bool
    enrolled: bool


@dataclass(frozen=True, slots=True)
class Receipt:
    """What recording returns: where the entry stands in the log, and a tlog-proof."""

    statement_id: str
    log_index: int
    receipt: str


def _user_record(row: User) -> UserRecord:
    return UserRecord(row.id, row.username, row.role, row.organisation_id, row.disabled,
                      row.enrolled_at is not None)


class ConsentService:
    def __init__(
        self,
        db: Database,
        *,
        data_keys: KeyRing,
        blind_index_key: bytes,
        log_signer: Signer,
        origin: str,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.data_keys = data_keys
        self.clock = clock
        self.log = LogStore(log_signer, origin)
        self._signer = log_signer
        self.verifier: Verifier = log_signer.verifier
        self.persons = PersonBook(data_keys, BlindIndex(blind_index_key))
        self._verified: dict[tuple[bytes, bytes, bytes], bool] = {}

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A serialised write transaction whose log appends commit with it, or not at all."""
        with self.db.write() as session:
            yield Tx(session=session, store=self.log, now=self.clock())

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.db.read() as session:
            yield session

    def today(self) -> dt.date:
        return self.clock().astimezone(dt.UTC).date()

    def initialise(self, admin_username: str = "admin") -> str:
        """Set up an empty schema: log head, first event, default policy, admin invitation."""
        with self.transaction() as tx:
            LogStore.initialise(tx.session)
            if LogStore.size(tx.session) != 0:
                raise Conflict("This instance is already initialised.")
            tx.log("admin:log:created", None, origin=self.log.origin)
            self._activate(tx, None, default_policy())
            _user, token = self._invite(tx, None, admin_username, "admin", None)
        return token

    # -- admin --------------------------------------------------------------------------

    def create_organisation(self, actor: Actor, name: str) -> OrganisationRecord:
        require_role(actor, "admin")
        clean = name.strip() if isinstance(name, str) else ""
        if not clean or len(clean) > 200 or not clean.isprintable():
            raise InvalidInput("An organisation name is 1 to 200 printable characters.")
        with self.transaction() as tx:
            if tx.session.execute(select(col(Organisation.id)).where(
                    col(Organisation.name) == clean)).first():
                raise Conflict("An organisation with this name exists.")
            row = Organisation(id=str(uuid.uuid4()), name=clean, created_at=tx.now)
            tx.session.add(row)
            tx.session.flush()
            tx.log("admin:organisation:created", actor, organisation_id=row.id)
        return OrganisationRecord(row.id, row.name, row.created_at)

    def list_organisations(self, actor: Actor) -> list[OrganisationRecord]:
        require_role(actor, "admin")
        with self.reading() as session:
            rows = session.execute(select(Organisation).order_by(col(Organisation.created_at)))
            return [OrganisationRecord(r.id, r.name, r.created_at) for r in rows.scalars()]

    def _invite(self, tx: Tx, actor: Actor | None, username: str, role: str,
                organisation_id: str | None) -> tuple[UserRecord, str]:
        if role not in ROLES:
            raise InvalidInput("The role must be admin, advocate, compiler or auditor.")
        if not isinstance(username, str) or not (3 <= len(username) <= 64) or not all(
                c.isascii() and (c.isalnum() or c in "._-") for c in username):
            raise InvalidInput("A username is 3 to 64 letters, digits, '.', '_' or '-'.")
        if role in ("advocate", "compiler") and organisation_id is None:
            raise InvalidInput("Advocates and compilers belong to an organisation.")
        if organisation_id is not None and tx.session.get(Organisation, organisation_id) is None:
            raise NotFound()
        if tx.session.execute(select(col(User.id)).where(col(User.username) == username)).first():
            raise Conflict("This username is taken.")
        user = User(id=str(uuid.uuid4()), username=username, role=role,
                    organisation_id=organisation_id, created_at=tx.now)
        tx.session.add(user)
        tx.session.flush()
        token = secrets.token_urlsafe(32)
        tx.session.add(Invitation(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                  user_id=user.id, created_at=tx.now,
                                  expires_at=tx.now + INVITATION_LIFETIME))
        tx.session.flush()
        tx.log("admin:user:invited", actor, user_id=user.id, role=role,
               organisation_id=organisation_id)
        return _user_record(user), token

    def invite_user(self, actor: Actor, username: str, role: str,
                    organisation_id: str | None) -> tuple[UserRecord, str]:
        """Create a user and a single-use invitation; the raw token is returned only here."""
        require_role(actor, "admin")
        with self.transaction() as tx:
            return self._invite(tx, actor, username, role, organisation_id)

    def list_users(self, actor: Actor) -> list[UserRecord]:
        require_role(actor, "admin")
        with self.reading() as session:
            return [_user_record(u) for u in session.execute(
                select(User).order_by(col(User.created_at))).scalars()]

    def set_user_disabled(self, actor: Actor, user_id: str, disabled: bool) -> UserRecord:
        require_role(actor, "admin")
        with self.transaction() as tx:
            user = tx.session.get(User, user_id)
            if user is None:
                raise NotFound()
            if user.id == actor.user_id and disabled:
                raise Conflict("An admin cannot disable their own account.")
            user.disabled = disabled
            if not disabled:
                # Re-enabling also lifts a lock on the second factor (issue: 100 failures).
                user.totp_locked, user.totp_failures = False, 0
            tx.session.add(user)
            tx.session.flush()
            tx.log("admin:user:disabled" if disabled else "admin:user:enabled", actor,
                   user_id=user.id)
            return _user_record(user)

    def approve_key(self, actor: Actor, key_id: str) -> _keys.KeyRecord:
        require_role(actor, "admin")
        with self.transaction() as tx:
            return _keys.approve_key(tx, actor, key_id)

    def revoke_key(self, actor: Actor, key_id: str) -> _keys.KeyRecord:
        require_role(actor, "admin")
        with self.transaction() as tx:
            return _keys.revoke_key(tx, actor, key_id)

    def list_keys(self, actor: Actor) -> list[_keys.KeyRecord]:
        """Admins see every key; an advocate sees their own."""
        require_role(actor, "admin", "advocate")
        with self.reading() as session:
            return _keys.keys_of(session, None if actor.role == "admin" else actor.user_id)

    def _activate(self, tx: Tx, actor: Actor | None, policy: Policy) -> None:
        index = tx.log("admin:policy:activated", actor, policy_id=policy.id,
                       version=policy.version, sha256=policy.sha256)
        tx.session.add(PolicyActivation(policy_id=policy.id, version=policy.version,
                                        sha256=policy.sha256, document=policy.document,
                                        log_index=index, activated_at=tx.now,
                                        activated_by=actor.user_id if actor else None))
        tx.session.flush()

    def activate_policy(self, actor: Actor, document: bytes) -> Policy:
        require_role(actor, "admin")
        policy = parse_policy(document)
        with self.transaction() as tx:
            self._activate(tx, actor, policy)
        return policy

    def active_policy(self, session: Session | None = None) -> Policy:
        if session is None:
            with self.reading() as fresh:
                return self.active_policy(fresh)
        row = session.execute(select(PolicyActivation).order_by(
            col(PolicyActivation.log_index).desc()).limit(1)).scalar_one_or_none()
        return default_policy() if row is None else parse_policy(bytes(row.document))

    def reencrypt_at_rest(self, actor: Actor | None) -> int:
        """Re-encrypt every encrypted column under the ring's newest key, in one transaction.

        The ring keeps its older keys, so an interrupted rotation leaves every row readable.
        """
        if actor is not None:
            require_role(actor, "admin")
        ring = self.data_keys
        changed = 0
        with self.transaction() as tx:
            for person in tx.session.execute(select(Person)).scalars():
                for column in ("identity", "salt"):
                    blob = bytes(getattr(person, column))
                    if ring.needs_rotation(blob):
                        setattr(person, column, ring.reencrypt(
                            blob, table="person", column=column, row_id=person.id))
                        changed += 1
                tx.session.add(person)
            for user in tx.session.execute(select(User)).scalars():
                if user.totp_secret is not None and ring.needs_rotation(bytes(user.totp_secret)):
                    user.totp_secret = ring.reencrypt(bytes(user.totp_secret), table="app_user",
                                                      column="totp_secret", row_id=user.id)
                    tx.session.add(user)
                    changed += 1
            tx.session.flush()
            tx.log("admin:data_key:rotated", actor, key_id=ring.newest.key_id)
        return changed

    # -- advocate -----------------------------------------------------------------------

    def register_key(self, actor: Actor, public_key: bytes) -> _keys.KeyRecord:
        require_role(actor, "advocate")
        with self.transaction() as tx:
            return _keys.register_key(tx, actor, public_key)

    def register_person(self, actor: Actor, *, full_name: object, birth_date: object = None,
                        aliases: object = (), location: object = None,
                        status: object = "imprisoned") -> PersonRecord:
        require_role(actor, "advocate")
        identity = parse_identity(full_name, birth_date, aliases, location, today=self.today())
        with self.transaction() as tx:
            return self.persons.register(tx, actor, identity, status)

    def set_person_status(self, actor: Actor, person_id: str, status: object) -> PersonRecord:
        require_role(actor, "advocate")
        with self.transaction() as tx:
            return self.persons.set_status(tx, actor, person_id, status)

    def import_persons(self, actor: Actor, data: bytes) -> ImportReport:
        require_role(actor, "advocate")
        with self.transaction() as tx:
            return self.persons.import_csv(tx, actor, data)

    def find_persons(self, actor: Actor, name: str) -> list[PersonRecord]:
        require_role(actor, "advocate")
        with self.reading() as session:
            return self.persons.find(session, name)

    def get_person(self, actor: Actor, person_id: str) -> PersonRecord:
        require_role(actor, "advocate")
        with self.reading() as session:
            return self.persons.get(session, person_id)

    def statements_of(self, actor: Actor, person_id: str) -> list[_statements.StoredStatement]:
        require_role(actor, "advocate")
        with self.reading() as session:
            self.persons.get(session, person_id)
            return _statements.statements_of(session, person_id)

    def decision(self, actor: Actor, person_id: str, context: ListContext,
                 as_of: dt.date | None = None) -> Decision:
        require_role(actor, "advocate", "admin")
        with self.reading() as session:
            person = self.persons.get(session, person_id)
            return decide(session, SignatureChecker(self._verified),
                          _statements.statements_of(session, person_id),
                          person.status, context, self.active_policy(session),
                          as_of or self.today())

    def record_statement(self, actor: Actor, envelope: Envelope) -> Receipt:
        require_role(actor, "advocate")
        with self.transaction() as tx:
            recorded = _statements.record_statement(tx, actor, envelope)
            receipt = self.log.receipt(tx.session, recorded.log_index)
        return Receipt(recorded.statement_id, recorded.log_index, receipt)

    def add_signature(self, actor: Actor, statement_id: str, signature: Signature) -> Receipt:
        require_role(actor, "advocate")
        with self.transaction() as tx:
            recorded = _statements.add_signature(tx, actor, statement_id, signature)
            receipt = self.log.receipt(tx.session, recorded.log_index)
        return Receipt(recorded.statement_id, recorded.log_index, receipt)

    # -- compiler -----------------------------------------------------------------------

    def _decide_all(self, session: Session, context: ListContext, as_of: dt.date,
                    person_ids: Sequence[str] | None = None) -> dict[str, Decision]:
        policy = self.active_policy(session)
        query = select(col(Person.id), col(Person.status))
        if person_ids is not None:
            query = query.where(col(Person.id).in_(list(person_ids)))
        persons = dict(session.execute(query).all())
        by_person: dict[str, list[_statements.StoredStatement]] = defaultdict(list)
        for stored in _statements.all_statements(session, list(persons) if person_ids
                                                 is not None else None):
            by_person[stored.person_id].append(stored)
        keys = key_states(session)
        checker = SignatureChecker(self._verified)
        first = {pid: evaluate_rows(by_person.get(pid, ()), status, context, policy, as_of)
                 for pid, status in persons.items()}
        checker.prefetch(session, [s for pid, d in first.items() if d.eligible
                                   for s in by_person.get(pid, ())])
        return {pid: decision if not decision.eligible else
                decide(session, checker, by_person.get(pid, ()), persons[pid], context,
                       policy, as_of, keys)
                for pid, decision in first.items()}

    def _log_compiler_read(self, actor: Actor, tag: str, context: ListContext,
                           result: Any) -> str:
        digest = sha256_hex(canonical_bytes(result))
        with self.transaction() as tx:
            tx.log(tag, actor, context=_context_json(context),
                   policy_sha256=self.active_policy(tx.session).sha256, result_sha256=digest)
        return digest

    def eligible(self, actor: Actor, context: ListContext,
                 as_of: dt.date | None = None) -> list[dict[str, Any]]:
        """Eligible persons only: no reasons, no counts of anyone else. Logged."""
        require_role(actor, "compiler")
        day = as_of or self.today()
        with self.reading() as session:
            decisions = self._decide_all(session, context, day)
            chosen = sorted(pid for pid, d in decisions.items() if d.eligible)
            result = []
            for pid in chosen:
                person = self.persons.get(session, pid)
                result.append({
                    "person_id": pid,
                    "full_name": person.identity.full_name,
                    "birth_date": person.identity.birth_date.isoformat()
                    if person.identity.birth_date else None,
                })
        self._log_compiler_read(actor, "compiler:list:eligible", context, result)
        return result

    def vet(self, actor: Actor, context: ListContext, candidates: Sequence[Mapping[str, Any]],
            as_of: dt.date | None = None) -> list[bool]:
        """One bool per candidate, in order. Unknown, malformed, ambiguous: all just False."""
        require_role(actor, "compiler")
        day = as_of or self.today()
        with self.reading() as session:
            wanted: list[str | None] = [self._resolve(session, c) for c in candidates]
            decisions = self._decide_all(session, context, day,
                                         [w for w in wanted if w is not None])
        result = [w is not None and w in decisions and decisions[w].eligible for w in wanted]
        self._log_compiler_read(actor, "compiler:list:vetted", context,
                                [{"eligible": r} for r in result])
        return result

    def _resolve(self, session: Session, candidate: Mapping[str, Any]) -> str | None:
        if not isinstance(candidate, Mapping):
            return None
        if set(candidate) == {"person_id"} and isinstance(candidate["person_id"], str):
            found = session.get(Person, candidate["person_id"])
            return found.id if found is not None else None
        if set(candidate) in ({"full_name", "birth_date"}, {"full_name"}):
            name, born = candidate.get("full_name"), candidate.get("birth_date")
            if not isinstance(name, str) or not (born is None or isinstance(born, str)):
                return None
            try:
                matches = self.persons.lookup(session, name, born)
            except InvalidInput:
                return None  # an unusable name or date names nobody: the same plain "no"
            return matches[0] if len(matches) == 1 else None
        return None

    def manifest(self, actor: Actor, context: ListContext, person_ids: Sequence[str],
                 as_of: dt.date | None = None) -> BuiltManifest:
        """A signed manifest (docs/MANIFEST.md): refused as a whole, opaquely; logged.

        A refusal is logged too: otherwise a one-person manifest request would be a vet that
        leaves no trace.
        """
        require_role(actor, "compiler")
        day = as_of or self.today()
        try:
            with self.reading() as session:
                built = build_manifest(session, persons=self.persons, log=self.log,
                                       signer=self._signer, context=context,
                                       person_ids=person_ids, as_of=day, now=self.clock())
        except ManifestRefused:
            self._log_compiler_read(actor, "compiler:list:manifest", context, {"refused": True})
            raise
        self._log_compiler_read(actor, "compiler:list:manifest", context, built.envelope)
        return built

    # -- audit --------------------------------------------------------------------------

    def checkpoint(self) -> str:
        with self.reading() as session:
            return self.log.checkpoint(session)

    def vkey(self) -> str:
        return self.verifier.vkey

    def log_size(self) -> int:
        with self.reading() as session:
            return LogStore.size(session)

    def entries(self, actor: Actor, start: int, end: int) -> Sequence[bytes]:
        require_role(actor, "auditor")
        with self.reading() as session:
            size = LogStore.size(session)
            if not (0 <= start < end <= size) or end - start > MAX_ENTRIES_PER_PAGE:
                raise InvalidInput("The range must satisfy 0 <= start < end <= size and "
                                   f"span at most {MAX_ENTRIES_PER_PAGE} entries.")
            return self.log.entries(session, start, end)

    def inclusion_proof(self, actor: Actor, index: int, size: int) -> list[bytes]:
        require_role(actor, "auditor")
        with self.reading() as session:
            if not (0 <= index < size <= LogStore.size(session)):
                raise InvalidInput("The proof must satisfy 0 <= index < size <= log size.")
            return self.log.inclusion_proof(session, index, size)

    def dump_log(self, out: Path, progress: Callable[[int, int], None] | None = None) -> int:
        """Write ``out/checkpoint`` and ``out/entries.jsonl`` from one consistent snapshot.

        One read transaction: the entries are exactly the tree the checkpoint signs.
        """
        out.mkdir(parents=True, exist_ok=True)
        with self.reading() as session:
            size = LogStore.size(session)
            note = self.log.checkpoint(session, size)
            with open(out / "entries.jsonl", "wb") as handle:
                for start in range(0, size, 5000):
                    for leaf in self.log.entries(session, start, min(size, start + 5000)):
                        handle.write(leaf + b"\n")
                    if progress is not None:
                        progress(min(size, start + 5000), size)
                handle.flush()
                os.fsync(handle.fileno())
        (out / "checkpoint").write_text(note, encoding="utf-8")
        return size

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        with self.reading() as session:
            if not (0 < first <= second <= LogStore.size(session)):
                raise InvalidInput("The proof must satisfy 0 < first <= second <= log size.")
            return self.log.consistency_proof(session, first, second)


def _context_json(context: ListContext) -> dict[str, Any]:
    return {
        "transfer": context.transfer,
        "destination": context.destination,
        "requires_pardon_petition": context.requires_pardon_petition,
        "documents_returned": context.documents_returned,
        "family_may_accompany": context.family_may_accompany,
    }


_ = Identity  # re-exported through consent/__init__
