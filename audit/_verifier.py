"""Offline verification of a whole log dump: ``consent audit verify OUT --key VKEY``.

Given the signed checkpoint, the entries in log order and the log's public key, it checks
that the entries are exactly the tree the log signed, that they extend an older trusted
checkpoint if one is given, that every statement signature in the log was valid and
made with a key that was approved and not revoked at that point in the log, and that each
person's statements form one unbroken ``previous`` chain (DESIGN section 5), which is what
pins a deleted or reordered statement to its index even when the log key signed the
rewritten history.

Two costs shape the code.  Memory: the root is accumulated as a stack of perfect-subtree
hashes (one per set bit of the count), so a dump of any size needs O(log n) hashes plus
the payloads of recorded statements (kept for later corroborations).  Time: entries are
hashed in aligned chunks of 1024, and an entry is JSON-parsed only if it could be a key
or statement event, decided by a byte test that cannot be fooled:

* in an entry with no backslash and only ASCII bytes, every JSON string appears verbatim
  between quotes, so the tag of a key or statement event appears as one of the literals
  ``"advocate:key:``, ``"admin:key:``, ``"advocate:statement:``;
* any entry with a backslash or a non-ASCII byte is parsed, whatever it contains.

An entry that passes neither test cannot be read by any JSON parser as one of the events
this verifier acts on, so skipping it changes no key, signature or chain verdict.  What
skipping does *not* check is that such an entry is a well-formed event at all;
``strict=True`` parses every entry and requires each to be a JSON object with a tag
``a:b:c`` (several times slower: JSON parsing costs more than hashing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, islice
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._checkpoint import Checkpoint, open_checkpoint
from ._dsse import pae
from ._errors import FormatError, LogVerificationError
from ._merkle import EMPTY_ROOT
from ._note import Verifier

__all__ = ["STATEMENT_PAYLOAD_TYPE", "VerifyReport", "read_dump", "verify_log"]

STATEMENT_PAYLOAD_TYPE = "application/vnd.exchange-consent.statement.v1+json"

_CHUNK_LEVEL = 10  # 1024 leaves: small enough to stay in cache, large enough to amortise
_CHUNK = 1 << _CHUNK_LEVEL
_CANDIDATE = re.compile(rb'"ad(?:vocate:(?:key|statement)|min:key):')
_TAG = re.compile(r"[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+\Z", re.ASCII)
_HEX64 = re.compile(r"[0-9a-f]{64}\Z", re.ASCII)
_LEAF = hashlib.sha256(b"\x00")
_NODE = hashlib.sha256(b"\x01")

_END = object()
_REGISTERED, _APPROVED, _REVOKED = "registered", "approved", "revoked"


@dataclass(frozen=True)
class VerifyReport:
    """What was verified, for the command line to print."""

    checkpoint: Checkpoint
    trusted: Checkpoint | None
    entries: int
    parsed_entries: int
    keys_registered: int
    keys_approved: int
    keys_revoked: int
    statements: int
    corroborations: int
    signatures_verified: int


class _Bad(Exception):
    """Internal: an entry is at fault; converted to LogVerificationError with its index."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Parsers disagree on which duplicate wins; an event must mean one thing.
        raise _Bad("entry")
    return result


def _reject_constant(_: str) -> Any:
    raise _Bad("entry")  # NaN and Infinity are not JSON


def _load(raw: bytes) -> Any:
    try:
        return json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Bad("entry") from exc


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _Bad("entry")
    return value


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise _Bad("entry") from exc


class _Key:
    __slots__ = ("public", "state")

    def __init__(self, public: Ed25519PublicKey) -> None:
        self.public = public
        self.state = _REGISTERED


class _Statement:
    __slots__ = ("message", "person_id", "signers")

    def __init__(self, message: bytes, person_id: str, signers: set[str]) -> None:
        self.message = message
        self.person_id = person_id
        self.signers = signers


class _Events:
    """Replays key and statement events in log order; raises _Bad for the first fault."""

    def __init__(self) -> None:
        self.keys: dict[str, _Key] = {}
        self.statements: dict[str, _Statement] = {}
        self.heads: dict[str, str] = {}  # person id -> id of their latest recorded statement
        self.parsed = self.approved = self.revoked = 0
        self.corroborations = self.signatures = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "advocate:key:registered": self._registered,
            "admin:key:approved": self._approved,
            "admin:key:revoked": self._revoked,
            "advocate:statement:recorded": self._recorded,
            "advocate:statement:corroborated": self._corroborated,
        }

    def apply(self, raw: bytes) -> None:
        self.parsed += 1
        event = _load(raw)
        if not isinstance(event, dict):
            raise _Bad("entry")
        tag = event.get("tag")
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise _Bad("entry")
        handler = self._handlers.get(tag)
        if handler is not None:
            handler(event)

    def _registered(self, event: dict[str, Any]) -> None:
        key_id = _string(event, "key_id")
        raw = _b64(_string(event, "public_key"))
        if len(raw) != 32 or hashlib.sha256(raw).hexdigest() != key_id:
            raise _Bad("entry")
        if key_id in self.keys:
            raise _Bad("entry")  # key ids are content hashes: a second registration is a replay
        try:
            public = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise _Bad("entry") from exc
        self.keys[key_id] = _Key(public)

    def _transition(self, event: dict[str, Any], allowed: tuple[str, ...], new: str) -> None:
        key = self.keys.get(_string(event, "key_id"))
        if key is None or key.state not in allowed:
            raise _Bad("entry")
        key.state = new

    def _approved(self, event: dict[str, Any]) -> None:
        self._transition(event, (_REGISTERED,), _APPROVED)
        self.approved += 1

    def _revoked(self, event: dict[str, Any]) -> None:
        self._transition(event, (_REGISTERED, _APPROVED), _REVOKED)
        self.revoked += 1

    def _check_signature(self, signature: Any, message: bytes, signers: set[str]) -> None:
        if not isinstance(signature, dict):
            raise _Bad("entry")
        key_id = _string(signature, "keyid")
        sig = _b64(_string(signature, "sig"))
        if key_id in signers:
            raise _Bad("entry")  # one key, one voice
        key = self.keys.get(key_id)
        if key is None or key.state != _APPROVED:
            raise _Bad("key")
        try:
            key.public.verify(sig, message)
        except InvalidSignature as exc:
            raise _Bad("signature") from exc
        signers.add(key_id)
        self.signatures += 1

    def _recorded(self, event: dict[str, Any]) -> None:
        statement_id = _string(event, "statement_id")
        envelope = event.get("envelope")
        if not isinstance(envelope, dict):
            raise _Bad("entry")
        payload_type = _string(envelope, "payloadType")
        payload = _b64(_string(envelope, "payload"))
        signatures = envelope.get("signatures")
        if (
            payload_type != STATEMENT_PAYLOAD_TYPE
            or not isinstance(signatures, list)
            or not signatures
            or not _HEX64.match(statement_id)
            or hashlib.sha256(payload).hexdigest() != statement_id
            or statement_id in self.statements
        ):
            raise _Bad("entry")
        message = pae(payload_type, payload)
        signers: set[str] = set()
        for signature in signatures:
            self._check_signature(signature, message, signers)
        person_id = self._follow_chain(event, payload, statement_id)
        self.statements[statement_id] = _Statement(message, person_id, signers)

    def _follow_chain(self, event: dict[str, Any], payload: bytes, statement_id: str) -> str:
        """Each statement names its person's previous one, so a deleted or reordered
        statement breaks the chain exactly where it was removed or moved to."""
        body = _load(payload)
        person = body.get("person") if isinstance(body, dict) else None
        person_id = person.get("id") if isinstance(person, dict) else None
        previous = body.get("previous", _END) if isinstance(body, dict) else _END
        if (
            not isinstance(person_id, str)
            or not (previous is None or isinstance(previous, str))
            or _string(event, "person_id") != person_id
        ):
            raise _Bad("entry")
        if previous != self.heads.get(person_id):
            raise _Bad("chain")
        self.heads[person_id] = statement_id
        return person_id

    def _corroborated(self, event: dict[str, Any]) -> None:
        statement = self.statements.get(_string(event, "statement_id"))
        if statement is None or _string(event, "person_id") != statement.person_id:
            raise _Bad("entry")
        self._check_signature(event.get("signature"), statement.message, statement.signers)
        self.corroborations += 1


class _Stack:
    """Compact range of ``[0, size)``: one perfect-subtree hash per set bit of ``size``."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.size = 0

    def push(self, level: int, h: bytes) -> None:
        """Add a perfect subtree of ``2**level`` leaves; ``size`` must be a multiple of it."""
        n = self.size >> level
        self.size += 1 << level
        while n & 1:
            c = _NODE.copy()
            c.update(self.hashes.pop())
            c.update(h)
            h = c.digest()
            n >>= 1
        self.hashes.append(h)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            c = _NODE.copy()
            c.update(left)
            c.update(h)
            h = c.digest()
        return h


def _subtree(hashes: list[bytes]) -> bytes:
    """Root of a perfect subtree (len(hashes) a power of two), one level at a time."""
    new = _NODE.copy
    while len(hashes) > 1:
        pairs = iter(hashes)
        level: list[bytes] = []
        append = level.append
        for left, right in zip(pairs, pairs, strict=True):
            c = new()
            c.update(left)
            c.update(right)
            append(c.digest())
        hashes = level
    return hashes[0]


def _candidates(chunk: list[bytes]) -> list[int]:
    """Positions in ``chunk`` that could be key or statement events (see module docstring).

    One regex pass over the joined chunk finds the literals; the pattern holds no newline,
    so a match never spans the separator between two entries (even if an entry itself
    contains a newline), and its entry is found by bisecting the entries' end offsets.
    """
    blob = b"\n".join(chunk)
    if b"\\" in blob or not blob.isascii():
        search = _CANDIDATE.search
        return [j for j, x in enumerate(chunk) if b"\\" in x or not x.isascii() or search(x)]
    starts = [m.start() for m in _CANDIDATE.finditer(blob)]
    if not starts:
        return []
    ends = list(accumulate(map(len, chunk)))  # entry j occupies [ends[j-1] + j, ends[j] + j)
    found: dict[int, None] = {}
    for start in starts:
        found[bisect_right(range(len(chunk)), start, key=lambda j: ends[j] + j)] = None
    return list(found)


def _fail(index: int, reason: str, exact: bool = True) -> LogVerificationError:
    return LogVerificationError(index, exact=exact, reason=reason)


def verify_log(
    checkpoint_note: str,
    entries: Iterable[bytes],
    verifier: Verifier,
    trusted_note: str | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    strict: bool = False,
) -> VerifyReport:
    """Verify a dump against its checkpoint (and an older trusted one); see the module doc.

    Failures of the checkpoints themselves raise VerificationError or FormatError.  A
    failure in the entries raises LogVerificationError for the first one met in log order
    (see its docstring for what ``index`` and ``exact`` mean).  A root mismatch can only
    be seen once its whole prefix is read, so an entry-level fault inside that prefix is
    named in preference to it.  ``progress`` is called with the number of entries
    processed after each chunk.
    """
    checkpoint = open_checkpoint(checkpoint_note, verifier)
    size = checkpoint.size
    trusted = None
    if trusted_note is not None:
        trusted = open_checkpoint(trusted_note, verifier, origin=checkpoint.origin)
        if trusted.size == 0 and trusted.root_hash != EMPTY_ROOT:
            raise _fail(0, "trusted_root", exact=False)
    trusted_size = trusted.size if trusted is not None else -1

    events = _Events()
    stack = _Stack()
    source = iter(entries)
    new_leaf = _LEAF.copy
    pos = 0
    while pos < size:
        # Stop each chunk at the trusted size and re-align afterwards, so the trusted prefix
        # root is read off the stack and full chunks stay aligned perfect subtrees.
        want = min(_CHUNK - pos % _CHUNK, size - pos)
        if pos < trusted_size:
            want = min(want, trusted_size - pos)
        chunk = list(islice(source, want))
        if not chunk:
            raise _fail(pos, "count")  # the entries ended before the checkpoint's size
        hashes: list[bytes] = []
        append = hashes.append
        for entry in chunk:
            c = new_leaf()
            c.update(entry)
            append(c.digest())
        for j in range(len(chunk)) if strict else _candidates(chunk):
            try:
                events.apply(chunk[j])
            except _Bad as bad:
                raise _fail(pos + j, bad.reason) from None
        if len(chunk) == _CHUNK:
            stack.push(_CHUNK_LEVEL, _subtree(hashes))
        else:
            for h in hashes:
                stack.push(0, h)
        pos += len(chunk)
        if (
            pos == trusted_size
            and trusted is not None
            and not hmac.compare_digest(stack.root(), trusted.root_hash)
        ):
            raise _fail(trusted_size, "trusted_root", exact=False)
        if progress is not None:
            progress(pos)
        if len(chunk) < want:
            raise _fail(pos, "count")  # the entries ended before the checkpoint's size
    if next(source, _END) is not _END:
        raise _fail(size, "count")  # more entries than the checkpoint covers
    if not hmac.compare_digest(stack.root(), checkpoint.root_hash):
        raise _fail(size, "root", exact=False)
    if trusted is not None and trusted.size > size:
        # Checked last so that a deleted entry inside the checkpoint is named first.
        raise _fail(size, "rollback")
    return VerifyReport(
        checkpoint=checkpoint,
        trusted=trusted,
        entries=pos,
        parsed_entries=events.parsed,
        keys_registered=len(events.keys),
        keys_approved=events.approved,
        keys_revoked=events.revoked,
        statements=len(events.statements),
        corroborations=events.corroborations,
        signatures_verified=events.signatures,
    )


def read_dump(directory: str | os.PathLike[str]) -> tuple[str, Iterator[bytes]]:
    """Read ``OUT/checkpoint`` and stream ``OUT/entries.jsonl`` (one leaf per line).

    The checkpoint is read as bytes and decoded strictly so that no newline translation
    can alter the signed text.  A final newline after the last entry is optional; an empty
    file is an empty log.  Files are opened here, so a missing file fails now (OSError)
    rather than half-way through verification.
    """
    base = Path(directory)
    try:
        checkpoint = (base / "checkpoint").read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("checkpoint is not UTF-8") from exc
    handle = (base / "entries.jsonl").open("rb")
    return checkpoint, _lines(handle)


def _lines(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        tail = b""
        while block := handle.read(1 << 20):
            parts = (tail + block).split(b"\n")
            tail = parts.pop()
            yield from parts
        if tail:
            yield tail
