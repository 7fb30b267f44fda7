"""Offline verification of a signed manifest (docs/MANIFEST.md).

Needs nothing but the manifest file and the log's public key (the vkey): no database, no
server, no clock. What it checks, in order, stopping at the first failure of the file as a
whole:

1. the file is the RFC 8785 encoding of a DSSE envelope of the manifest payload type,
   signed by the log key;
2. the payload is the RFC 8785 encoding of a manifest object of the documented shape;
3. the checkpoint is a C2SP checkpoint of the log, signed by the same key;
4. every log entry carried verifies against that checkpoint by its RFC 9162 inclusion proof;
5. the policy document hashes to the SHA-256 its logged activation names;
6. every key record matches its logged registration, approval and revocation entries.

Then, for each listed person (a failure names the person and does not stop the others):
the identity commitment, the chain of statements from ``previous = null`` to the committed
head, each statement's and each signature's own log entry, every advocate signature and its
key's approval at the signature's log position, and finally the carried policy, re-run on
the carried statements for the manifest's context and ``as_of``: the person must be
eligible.

Messages name indexes and ids, never names.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from audit import (
    AuditError,
    Checkpoint,
    Verifier,
    leaf_hash,
    open_checkpoint,
    pae,
    verify_consistency,
    verify_inclusion,
)
from consent._canonical import canonical_bytes, parse_json_strict, sha256_hex
from consent._ed25519 import verify_ed25519
from consent._envelope import STATEMENT_PAYLOAD_TYPE, Envelope, Signature
from consent._errors import ConsentError, InvalidInput
from consent._statement import StatementPayload, parse_statement_payload
from policies import (
    ListContext,
    Policy,
    PolicyError,
    Scope,
    StatementFacts,
    evaluate,
    parse_policy,
)
from policies import Signer as PolicySigner

__all__ = [
    "MANIFEST_PAYLOAD_TYPE",
    "MANIFEST_TYPE",
    "MAX_MANIFEST_BYTES",
    "MAX_MANIFEST_PERSONS",
    "ManifestInvalid",
    "ManifestReport",
    "PersonOutcome",
    "manifest_keyid",
    "verify_manifest",
    "verify_newer",
]

MANIFEST_PAYLOAD_TYPE = "application/vnd.exchange-consent.manifest.v1+json"
MANIFEST_TYPE = "exchange-consent/manifest/v1"
MAX_MANIFEST_BYTES = 128 * 1024 * 1024
MAX_MANIFEST_PERSONS = 500
MAX_CHAIN_LENGTH = 1000
MAX_PROOF_HASHES = 64
MAX_TEXT = 200

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_STATUSES = ("imprisoned", "released", "deceased", "unknown")
_CONTEXT_FIELDS = ("transfer", "destination", "requires_pardon_petition",
                   "documents_returned", "family_may_accompany")
_TAG_RECORDED = "advocate:statement:recorded"
_TAG_CORROBORATED = "advocate:statement:corroborated"
_TAG_KEY_REGISTERED = "advocate:key:registered"
_TAG_KEY_APPROVED = "admin:key:approved"
_TAG_KEY_REVOKED = "admin:key:revoked"
_TAG_POLICY = "admin:policy:activated"


class ManifestInvalid(ConsentError):
    """The manifest as a whole failed verification; the message names the first failure."""

    default_message = "The manifest did not verify."


class _CheckError(Exception):
    """A failure inside one check; turned into a ManifestInvalid or a person's problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def manifest_keyid(public_key: bytes) -> str:
    """The DSSE ``keyid`` of the log key: hex SHA-256 of the raw 32-byte Ed25519 key."""
    return hashlib.sha256(public_key).hexdigest()


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonOutcome:
    """One listed person: who (as the manifest says) and whether everything held."""

    index: int
    person_id: str
    full_name: str
    birth_date: str | None
    ok: bool
    problem: str | None
    deciding_statement_id: str | None
    chain: tuple[str, ...]
    """The statement ids, oldest first, as far as they were checked (all of them when ok)."""

    @property
    def statements(self) -> int:
        return len(self.chain)

    def line(self) -> str:
        born = self.birth_date or "-"
        head = f"person {self.index} {self.person_id} {self.full_name} ({born})"
        if self.ok:
            return (f"ok    {head}: eligible; {self.statements} statement(s); deciding "
                    f"statement {self.deciding_statement_id}")
        return f"FAIL  {head}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ManifestReport:
    """What a manifest claims and what held. ``ok`` only if every person passed."""

    origin: str
    checkpoint_size: int
    checkpoint_root: bytes
    issued_at: str
    as_of: dt.date
    context: ListContext
    policy_id: str
    policy_version: int
    policy_sha256: str
    persons: tuple[PersonOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.persons)

    @property
    def first_failure(self) -> str | None:
        for person in self.persons:
            if not person.ok:
                return person.problem
        return None

    def lines(self) -> list[str]:
        """One line per person, in the manifest's order."""
        return [p.line() for p in self.persons]

    def raise_for_failure(self) -> None:
        failure = self.first_failure
        if failure is not None:
            raise ManifestInvalid(failure)


# -- small strict readers ------------------------------------------------------------------


def _obj(value: Any, where: str, members: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _CheckError(f"'{where}' must be a JSON object")
    if set(value) != set(members):
        raise _CheckError(f"'{where}' must have exactly the members {', '.join(sorted(members))}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _CheckError(f"'{where}' must be a non-empty string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _CheckError(f"'{where}' must be true or false")
    return value


def _index(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _CheckError(f"'{where}' must be a log index (a non-negative integer)")
    return value


def _hex64(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _CheckError(f"'{where}' must be 64 lowercase hex digits")
    return value


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise _CheckError(f"'{where}' must be a list")
    if len(value) > limit:
        raise _CheckError(f"'{where}' has more than {limit} items")
    return value


def _b64(value: Any, where: str) -> bytes:
    """Standard base64 with padding, canonical: one text for one byte string."""
    if not isinstance(value, str):
        raise _CheckError(f"'{where}' must be standard base64")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _CheckError(f"'{where}' must be standard base64") from None
    if base64.b64encode(data).decode("ascii") != value:
        raise _CheckError(f"'{where}' must be canonical standard base64")
    return data


def _date(value: Any, where: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _CheckError(f"'{where}' must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _CheckError(f"'{where}' is not a calendar date") from None


def _canonical_json(data: bytes, what: str) -> Any:
    """Strict JSON that must also be exactly its own RFC 8785 encoding."""
    try:
        value = parse_json_strict(data)
        same = canonical_bytes(value) == data
    except InvalidInput:
        raise _CheckError(f"{what} is not valid JSON") from None
    if not same:
        raise _CheckError(f"{what} is not in RFC 8785 canonical form")
    return value


# -- the envelope and the log evidence -----------------------------------------------------


def _open_envelope(data: bytes, verifier: Verifier) -> bytes:
    if len(data) > MAX_MANIFEST_BYTES:
        raise _CheckError(f"the file is larger than {MAX_MANIFEST_BYTES} bytes")
    # One optional final newline, as editors and shells add; nothing else may vary.
    body = data[:-1] if data.endswith(b"\n") else data
    envelope = _obj(_canonical_json(body, "the file"), "envelope",
                    ("payloadType", "payload", "signatures"))
    if envelope["payloadType"] != MANIFEST_PAYLOAD_TYPE:
        raise _CheckError("the envelope's payloadType is not the manifest type")
    payload = _b64(envelope["payload"], "payload")
    signatures = _list(envelope["signatures"], "signatures", 16)
    if not signatures:
        raise _CheckError("the manifest carries no service signature")
    wanted = manifest_keyid(verifier.public_key)
    message = pae(MANIFEST_PAYLOAD_TYPE, payload)
    verified = False
    for n, raw in enumerate(signatures):
        signature = _obj(raw, f"signatures[{n}]", ("keyid", "sig"))
        keyid = _hex64(signature["keyid"], f"signatures[{n}].keyid")
        sig = _b64(signature["sig"], f"signatures[{n}].sig")
        if keyid != wanted:
            continue  # another key's signature (e.g. a witness): not ours to judge
        if not verifier.verify(message, sig):
            raise _CheckError("the service signature does not verify with the given key")
        verified = True
    if not verified:
        raise _CheckError("the manifest is not signed by the given key")
    return payload


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int
    event: dict[str, Any]


def _read_entries(raw: Any, checkpoint: Checkpoint) -> dict[int, _Entry]:
    entries: dict[int, _Entry] = {}
    last = -1
    for n, item in enumerate(_list(raw, "entries", MAX_MANIFEST_BYTES)):
        where = f"entries[{n}]"
        entry = _obj(item, where, ("index", "leaf", "proof"))
        index = _index(entry["index"], f"{where}.index")
        if index <= last:
            raise _CheckError("'entries' must be in strictly increasing log order")
        last = index
        leaf = _b64(entry["leaf"], f"{where}.leaf")
        proof = [_b64(h, f"{where}.proof[]")
                 for h in _list(entry["proof"], f"{where}.proof", MAX_PROOF_HASHES)]
        if index >= checkpoint.size:
            raise _CheckError(f"log entry {index} lies beyond the checkpoint (size "
                        f"{checkpoint.size})")
        try:
            verify_inclusion(leaf_hash(leaf), index, checkpoint.size, proof,
                             checkpoint.root_hash)
        except AuditError:
            raise _CheckError(f"log entry {index}: the inclusion proof does not verify against the "
                        "checkpoint") from None
        try:
            event = _canonical_json(leaf, f"log entry {index}")
        except _CheckError as exc:
            raise _CheckError(exc.message) from None
        if not isinstance(event, dict) or not isinstance(event.get("tag"), str):
            raise _CheckError(f"log entry {index} is not a log event")
        entries[index] = _Entry(index, event)
    return entries


def _entry(entries: Mapping[int, _Entry], index: int, tag: str,
           **members: Any) -> dict[str, Any]:
    """The event at ``index``, which must carry ``tag`` and each of ``members`` exactly."""
    found = entries.get(index)
    if found is None:
        raise _CheckError(f"log entry {index} is not in the manifest")
    event = found.event
    if event.get("tag") != tag:
        raise _CheckError(f"log entry {index} is not a '{tag}' event")
    for name, value in members.items():
        if event.get(name) != value:
            raise _CheckError(f"log entry {index}: its '{name}' does not match the manifest")
    return event


# -- policy and keys -----------------------------------------------------------------------


def _read_policy(raw: Any, entries: Mapping[int, _Entry]) -> Policy:
    section = _obj(raw, "policy", ("id", "version", "sha256", "document", "activation"))
    claimed = _hex64(section["sha256"], "policy.sha256")
    document = _b64(section["document"], "policy.document")
    if hashlib.sha256(document).hexdigest() != claimed:
        raise _CheckError("policy: the document's SHA-256 is not the hash the manifest names")
    try:
        policy = parse_policy(document)
    except PolicyError:
        raise _CheckError("policy: the document is not a valid policy document") from None
    if section["id"] != policy.id or section["version"] != policy.version or isinstance(
            section["version"], bool):
        raise _CheckError("policy: 'id' or 'version' does not match the document")
    _entry(entries, _index(section["activation"], "policy.activation"), _TAG_POLICY,
           policy_id=policy.id, version=policy.version, sha256=policy.sha256)
    return policy


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    public_key: bytes
    signer: PolicySigner
    approval: int
    revocation: int | None


def _read_keys(raw: Any, entries: Mapping[int, _Entry]) -> dict[str, _Key]:
    keys: dict[str, _Key] = {}
    for n, item in enumerate(_list(raw, "keys", MAX_MANIFEST_BYTES)):
        where = f"keys[{n}]"
        record = _obj(item, where, ("key_id", "registration", "approval", "revocation"))
        key_id = _hex64(record["key_id"], f"{where}.key_id")
        if key_id in keys:
            raise _CheckError(f"key {key_id} is listed twice")
        registration = _index(record["registration"], f"{where}.registration")
        approval = _index(record["approval"], f"{where}.approval")
        revocation = None if record["revocation"] is None else _index(
            record["revocation"], f"{where}.revocation")
        try:
            event = _entry(entries, registration, _TAG_KEY_REGISTERED, key_id=key_id)
            public_key = _b64(event.get("public_key"), "public_key")
            user_id = _str(event.get("user_id"), "user_id")
            organisation_id = _str(event.get("organisation_id"), "organisation_id")
            if len(public_key) != 32 or hashlib.sha256(public_key).hexdigest() != key_id:
                raise _CheckError(f"log entry {registration}: the public key does not hash to the "
                            "key id")
            _entry(entries, approval, _TAG_KEY_APPROVED, key_id=key_id)
            if approval <= registration:
                raise _CheckError(f"log entry {approval}: approval precedes registration")
            if revocation is not None:
                _entry(entries, revocation, _TAG_KEY_REVOKED, key_id=key_id)
                if revocation <= registration:
                    raise _CheckError(f"log entry {revocation}: revocation precedes registration")
        except _CheckError as exc:
            raise _CheckError(f"key {key_id}: {exc.message}") from None
        keys[key_id] = _Key(key_id, public_key, PolicySigner(user_id, organisation_id),
                            approval, revocation)
    return keys


def _read_context(raw: Any) -> ListContext:
    section = _obj(raw, "context", _CONTEXT_FIELDS)
    try:
        return ListContext(
            transfer=section["transfer"],
            destination=section["destination"],
            requires_pardon_petition=_bool(section["requires_pardon_petition"],
                                           "context.requires_pardon_petition"),
            documents_returned=_bool(section["documents_returned"],
                                     "context.documents_returned"),
            family_may_accompany=_bool(section["family_may_accompany"],
                                       "context.family_may_accompany"),
        )
    except PolicyError:
        raise _CheckError("'context' is not a valid list context") from None


# -- persons -------------------------------------------------------------------------------


def _commitment(salt: bytes, full_name: str, birth_date: str | None) -> str:
    """hex SHA-256(salt || RFC 8785 {"birth_date", "full_name"}), DESIGN section 5."""
    return sha256_hex(salt + canonical_bytes({"birth_date": birth_date,
                                              "full_name": full_name}))


def _facts(payload: StatementPayload, signers: frozenset[PolicySigner]) -> StatementFacts:
    scope = None
    if payload.scope is not None:
        scope = Scope(
            transfers=frozenset(payload.scope.transfers),
            destinations=frozenset(payload.scope.destinations),
            accepts_pardon_petition=payload.scope.accepts_pardon_petition,
            requires_documents_returned=payload.scope.requires_documents_returned,
            requires_family_may_accompany=payload.scope.requires_family_may_accompany,
        )
    return StatementFacts(statement_id=payload.statement_id, position=payload.position,
                          stated_on=payload.stated_on, scope=scope,
                          duress_concern=payload.duress_concern, retracts=payload.retracts,
                          signers=signers)


def _signers(envelope: Envelope, statement_id: str, person_id: str, recorded: int,
             recorded_event: Mapping[str, Any], signature_entries: list[Any],
             entries: Mapping[int, _Entry], keys: Mapping[str, _Key]) -> frozenset[PolicySigner]:
    """Check every signature of one statement: logged, by a key approved there, valid."""
    if len(signature_entries) != len(envelope.signatures):
        raise _CheckError("'signature_entries' must give one log index per signature")
    try:
        logged = [Signature.from_json(s) for s in recorded_event["envelope"]["signatures"]]
    except (ConsentError, KeyError, TypeError):
        raise _CheckError(f"log entry {recorded}: the logged envelope is malformed") from None
    message = pae(STATEMENT_PAYLOAD_TYPE, envelope.payload)
    signers = set()
    for k, (signature, raw_index) in enumerate(zip(envelope.signatures, signature_entries,
                                                   strict=True)):
        at = _index(raw_index, f"signature_entries[{k}]")
        if at == recorded:
            if signature not in logged:
                raise _CheckError(f"signature {k} is not in the envelope logged at {recorded}")
        else:
            if at < recorded:
                raise _CheckError(f"signature {k}: log entry {at} precedes the statement")
            try:
                _entry(entries, at, _TAG_CORROBORATED, statement_id=statement_id,
                       person_id=person_id, signature=signature.to_json())
            except _CheckError as exc:
                raise _CheckError(f"signature {k}: {exc.message}") from None
        key = keys.get(signature.keyid)
        if key is None:
            raise _CheckError(f"signature {k}: its key is not in the manifest")
        if not key.approval < at:
            raise _CheckError(f"signature {k}: its key was not approved before log entry {at}")
        if key.revocation is not None and key.revocation < at:
            raise _CheckError(f"signature {k}: its key was revoked before log entry {at}")
        if not verify_ed25519(key.public_key, signature.sig, message):
            raise _CheckError(f"signature {k} does not verify")
        signers.add(key.signer)
    missing = [s for s in logged if s not in envelope.signatures]
    if missing:
        raise _CheckError(f"a signature logged at {recorded} is missing from the envelope")
    return frozenset(signers)


@dataclass(frozen=True, slots=True)
class _Identity:
    full_name: str
    birth_date: str | None
    commitment: str
    salt: bytes


def _read_identity(raw: Any, where: str) -> _Identity:
    identity = _obj(raw, where, ("full_name", "birth_date", "salt", "commitment"))
    full_name = _str(identity["full_name"], f"{where}.full_name")
    if len(full_name) > MAX_TEXT:
        raise _CheckError(f"'{where}.full_name' is longer than {MAX_TEXT} characters")
    born = identity["birth_date"]
    if born is not None:
        _date(born, f"{where}.birth_date")
    salt_hex = _hex64(identity["salt"], f"{where}.salt")
    return _Identity(full_name, born, _hex64(identity["commitment"], f"{where}.commitment"),
                     bytes.fromhex(salt_hex))


def _check_person(person: dict[str, Any], identity: _Identity, status: Literal[
        "imprisoned", "released", "deceased", "unknown"], context: ListContext, as_of: dt.date,
                  policy: Policy, entries: Mapping[int, _Entry],
                  keys: Mapping[str, _Key], checked: list[str]) -> str:
    """Everything about one person; returns the deciding statement id.

    ``checked`` receives the id of each statement as its checks pass.
    """
    person_id = person["person_id"]
    if _commitment(identity.salt, identity.full_name, identity.birth_date) != \
            identity.commitment:
        raise _CheckError("the identity does not match its commitment")
    chain = _list(person["statements"], "statements", MAX_CHAIN_LENGTH)
    facts: list[StatementFacts] = []
    previous: str | None = None
    last_recorded = -1
    for j, raw in enumerate(chain):
        try:
            item = _obj(raw, f"statements[{j}]", ("envelope", "recorded", "signature_entries"))
            try:
                envelope = Envelope.from_json(item["envelope"])
                payload = parse_statement_payload(envelope.payload, today=dt.date.max)
            except InvalidInput:
                raise _CheckError("the envelope or its statement is malformed") from None
            if payload.person_id != person_id:
                raise _CheckError("the statement is about another person")
            if payload.commitment != identity.commitment:
                raise _CheckError("the statement's identity commitment is not the person's")
            if payload.previous != previous:
                raise _CheckError("its 'previous' does not name the statement before it: the chain "
                            "is broken")
            recorded = _index(item["recorded"], "recorded")
            if recorded <= last_recorded:
                raise _CheckError(f"log entry {recorded} does not follow the previous statement's")
            event = _entry(entries, recorded, _TAG_RECORDED,
                           statement_id=payload.statement_id, person_id=person_id)
            logged = event.get("envelope")
            if not isinstance(logged, dict) or logged.get("payloadType") != \
                    STATEMENT_PAYLOAD_TYPE or logged.get("payload") != \
                    item["envelope"]["payload"]:
                raise _CheckError(f"log entry {recorded}: the logged envelope is not this "
                                  "statement")
            signers = _signers(envelope, payload.statement_id, person_id, recorded, event,
                               _list(item["signature_entries"], "signature_entries", 64),
                               entries, keys)
        except _CheckError as exc:
            raise _CheckError(f"statement {j}: {exc.message}") from None
        facts.append(_facts(payload, signers))
        checked.append(payload.statement_id)
        previous, last_recorded = payload.statement_id, recorded
    if person["head"] != previous:
        raise _CheckError("the chain does not end at the head statement the manifest commits to")
    try:
        decision = evaluate(facts, status, context, policy, as_of)
    except PolicyError:
        raise _CheckError("the statements cannot be evaluated") from None
    if not decision.eligible:
        reasons = ", ".join(r.value for r in decision.reasons)
        raise _CheckError(f"not eligible under policy {policy.id} at {as_of.isoformat()}: "
                          f"{reasons}")
    assert decision.deciding_statement_id is not None
    return decision.deciding_statement_id


def _read_persons(raw: Any, context: ListContext, as_of: dt.date, policy: Policy,
                  entries: Mapping[int, _Entry],
                  keys: Mapping[str, _Key]) -> tuple[PersonOutcome, ...]:
    persons = _list(raw, "persons", MAX_MANIFEST_PERSONS)
    if not persons:
        raise _CheckError("the manifest lists no person")
    seen: set[str] = set()
    outcomes = []
    for i, item in enumerate(persons):
        where = f"persons[{i}]"
        person = _obj(item, where, ("person_id", "status", "identity", "head", "statements"))
        person_id = _str(person["person_id"], f"{where}.person_id")
        try:
            canonical_id = str(uuid.UUID(person_id)) == person_id
        except ValueError:
            canonical_id = False
        if not canonical_id:
            raise _CheckError(f"'{where}.person_id' must be a lowercase UUID")
        if person_id in seen:
            raise _CheckError(f"person {person_id} is listed twice")
        seen.add(person_id)
        status = person["status"]
        if status not in _STATUSES:
            raise _CheckError(f"'{where}.status' is not a person status")
        if person["head"] is not None:
            _hex64(person["head"], f"{where}.head")
        identity = _read_identity(person["identity"], f"{where}.identity")
        checked: list[str] = []
        try:
            deciding = _check_person(person, identity, status, context, as_of, policy,
                                     entries, keys, checked)
            outcome = PersonOutcome(i, person_id, identity.full_name, identity.birth_date,
                                    True, None, deciding, tuple(checked))
        except _CheckError as exc:
            problem = f"person {i} ({person_id}): {exc.message}"
            outcome = PersonOutcome(i, person_id, identity.full_name, identity.birth_date,
                                    False, problem, None, tuple(checked))
        outcomes.append(outcome)
    return tuple(outcomes)


# -- the whole -----------------------------------------------------------------------------


def verify_manifest(data: bytes, vkey: str) -> ManifestReport:
    """Verify a manifest file offline with the log's vkey.

    Raises :class:`ManifestInvalid` naming the first failure of the file as a whole (the
    service signature, the checkpoint, a proof, the policy, a key). Failures that concern
    one person are reported per person in the returned report (``report.ok`` is false and
    ``report.first_failure`` names the first); :meth:`ManifestReport.raise_for_failure`
    turns them into a :class:`ManifestInvalid` too.
    """
    try:
        verifier = Verifier.from_vkey(vkey)
    except AuditError:
        raise ManifestInvalid("The verifier key is not a vkey "
                              "(<name>+<hex key id>+<base64 key>).") from None
    try:
        return _verify(data, verifier)
    except _CheckError as exc:
        raise ManifestInvalid(f"manifest: {exc.message}") from None


def _verify(data: bytes, verifier: Verifier) -> ManifestReport:
    if not isinstance(data, bytes):
        raise _CheckError("the manifest must be given as bytes")
    payload = _open_envelope(data, verifier)
    body = _obj(_canonical_json(payload, "the payload"), "payload",
                ("type", "issued_at", "context", "as_of", "checkpoint", "policy", "keys",
                 "persons", "entries"))
    if body["type"] != MANIFEST_TYPE:
        raise _CheckError(f"'type' is not '{MANIFEST_TYPE}'")
    issued_at = body["issued_at"]
    if not isinstance(issued_at, str) or not _INSTANT.fullmatch(issued_at):
        raise _CheckError("'issued_at' must be an RFC 3339 UTC time ending in 'Z'")
    as_of = _date(body["as_of"], "as_of")
    context = _read_context(body["context"])
    note = body["checkpoint"]
    if not isinstance(note, str):
        raise _CheckError("'checkpoint' must be the signed checkpoint note")
    try:
        checkpoint = open_checkpoint(note, verifier, origin=verifier.name)
    except AuditError:
        raise _CheckError("the checkpoint is not a checkpoint of this log signed by the given "
                    "key") from None
    entries = _read_entries(body["entries"], checkpoint)
    policy = _read_policy(body["policy"], entries)
    keys = _read_keys(body["keys"], entries)
    persons = _read_persons(body["persons"], context, as_of, policy, entries, keys)
    return ManifestReport(
        origin=checkpoint.origin,
        checkpoint_size=checkpoint.size,
        checkpoint_root=checkpoint.root_hash,
        issued_at=issued_at,
        as_of=as_of,
        context=context,
        policy_id=policy.id,
        policy_version=policy.version,
        policy_sha256=policy.sha256,
        persons=persons,
    )


def verify_newer(older: bytes, newer: bytes, consistency_proof: Sequence[bytes],
                 vkey: str) -> ManifestReport:
    """Close the gap after an older manifest's checkpoint with a newer manifest.

    Both manifests must verify in full; the newer checkpoint must extend the older one
    (``consistency_proof``: RFC 9162, from the older size to the newer, as served by the
    public ``GET /v1/audit/proof/consistency``); the newer one must list every person of the
    older one, for the same context and policy, each chain extending the older chain.
    Returns the newer report. Raises :class:`ManifestInvalid` naming the first failure.
    """
    old = verify_manifest(older, vkey)
    old.raise_for_failure()
    new = verify_manifest(newer, vkey)
    new.raise_for_failure()
    if new.context != old.context or new.policy_sha256 != old.policy_sha256:
        raise ManifestInvalid("newer manifest: another context or another policy")
    try:
        verify_consistency(old.checkpoint_size, new.checkpoint_size, list(consistency_proof),
                           old.checkpoint_root, new.checkpoint_root)
    except AuditError:
        raise ManifestInvalid("newer manifest: its checkpoint does not extend the older "
                              "checkpoint") from None
    chains = {p.person_id: p.chain for p in new.persons}
    for person in old.persons:
        chain = chains.get(person.person_id)
        if chain is None:
            raise ManifestInvalid(f"newer manifest: person {person.index} "
                                  f"({person.person_id}) is not listed")
        if chain[:len(person.chain)] != person.chain:
            raise ManifestInvalid(f"newer manifest: person {person.index} "
                                  f"({person.person_id}): the chain does not extend the "
                                  "older chain")
    return new
