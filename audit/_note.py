"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, signature type 0x01.

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``— <key name> base64(4-byte key id || signature)``.  Keys are identified by the pair
(name, key id), where key id = SHA-256(name || 0x0A || 0x01 || public key)[:4].

The rules follow the spec and golang.org/x/mod/sumdb/note, with one tightening: every
signature line from a known key is verified (the Go code verifies only the first line per
key), so a note carrying one good and one bad signature by the same key is rejected, as
the spec says clients SHOULD.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ._errors import FormatError, VerificationError

__all__ = ["MAX_NOTE_SIGNATURES", "MAX_NOTE_SIZE", "Signer", "Verifier", "open_note", "sign_note"]

ALG_ED25519 = 0x01
MAX_NOTE_SIGNATURES = 100  # the spec says accept at least 16; Go stops at 100
MAX_NOTE_SIZE = 1 << 20  # bounds the work a hostile note can cause; checkpoints are < 1 KiB
_SIG_PREFIX = "\u2014 "  # em dash, space


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in name)
        and _is_utf8(name)
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _b64decode(text: str) -> bytes:
    """Strict standard base64: no whitespace, no URL alphabet, correct padding."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise FormatError("invalid base64") from exc


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw()


class Verifier:
    """A known Ed25519 note key: a name, its key id and the public key."""

    __slots__ = ("_key", "_raw", "key_id", "name")

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        if not _valid_name(name):
            raise FormatError("invalid key name")
        if isinstance(public_key, bytes):
            if len(public_key) != 32:
                raise FormatError("an Ed25519 public key is 32 bytes")
            try:
                public_key = Ed25519PublicKey.from_public_bytes(public_key)
            except ValueError as exc:
                raise FormatError("invalid Ed25519 public key") from exc
        self.name = name
        self._key = public_key
        self._raw = _raw_public(public_key)
        self.key_id = _key_id(name, self._raw)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<8 hex key id>+<base64(0x01 || public key)>``."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise FormatError("malformed verifier key")
        name, hex_id, key64 = parts
        key = _b64decode(key64)
        if len(hex_id) != 8 or not _is_hex(hex_id) or len(key) != 33 or key[0] != ALG_ED25519:
            raise FormatError("malformed verifier key")
        verifier = cls(name, key[1:])
        if verifier.key_id != bytes.fromhex(hex_id):
            raise FormatError("verifier key id does not match the key")
        return verifier

    @property
    def public_key(self) -> bytes:
        return self._raw

    @property
    def vkey(self) -> str:
        """The published form ``<name>+<hex key id>+<base64(0x01 || key)>``."""
        key64 = base64.b64encode(bytes([ALG_ED25519]) + self._raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{key64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self._raw) == (other.name, other._raw)

    def __hash__(self) -> int:
        return hash((self.name, self._raw))

    def __repr__(self) -> str:
        return f"Verifier({self.vkey!r})"


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


class Signer:
    """An Ed25519 note signing key.  Key generation is the caller's job (no randomness here)."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.verifier = Verifier(name, private_key.public_key())

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>``."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise FormatError("malformed signer key")
        _, _, name, hex_id, key64 = parts
        key = _b64decode(key64)
        if len(hex_id) != 8 or not _is_hex(hex_id) or len(key) != 33 or key[0] != ALG_ED25519:
            raise FormatError("malformed signer key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
        # The id names the public key, so it can be checked only after deriving that key.
        if signer.key_id != bytes.fromhex(hex_id):
            raise FormatError("signer key id does not match the key")
        return signer

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @property
    def skey(self) -> str:
        """The private key in the skey form; write it only to a file with mode 0600."""
        seed = self._key.private_bytes_raw()
        key64 = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{key64}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, key id {self.key_id.hex()})"


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise FormatError("note text must end with a newline")
    if not _is_utf8(text) or any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise FormatError("note text must be UTF-8 without control characters")


def sign_note(text: str, signers: Iterable[Signer]) -> str:
    """Sign ``text`` with each signer, in order; the result is the whole note."""
    _check_note_text(text)
    signers = list(signers)
    if not signers or len(signers) > MAX_NOTE_SIGNATURES:
        raise FormatError(f"a note has 1 to {MAX_NOTE_SIGNATURES} signatures")
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise FormatError("the same key cannot sign a note twice")
    message = text.encode()
    lines = [
        f"{_SIG_PREFIX}{s.name} {base64.b64encode(s.key_id + s.sign(message)).decode()}\n"
        for s in signers
    ]
    return text + "\n" + "".join(lines)


def _parse(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a note into its text and (name, key id, signature) triples, rejecting malformed."""
    if len(note) > MAX_NOTE_SIZE or not _is_utf8(note) or len(note.encode()) > MAX_NOTE_SIZE:
        raise FormatError("note too large or not UTF-8")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise FormatError("note contains control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise FormatError("note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise FormatError("signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise FormatError("too many signatures")
    sigs: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise FormatError("malformed signature line")
        name, sep, sig64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not _valid_name(name) or not sig64:
            raise FormatError("malformed signature line")
        raw = _b64decode(sig64)
        if len(raw) < 5:
            raise FormatError("malformed signature line")
        sigs.append((name, raw[:4], raw[4:]))
    return text, sigs


def open_note(note: str, verifiers: Iterable[Verifier]) -> str:
    """Return the note's text if a known key signed it and no known key's signature fails.

    Signatures by unknown keys are ignored (that is how key rotation and witness
    cosignatures work).  Raises FormatError for a malformed note and VerificationError
    when no known key signed it or when any signature from a known key is invalid.
    """
    text, sigs = _parse(note)
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_id), v)
        if other != v:
            # Two different keys share name and id: a poisoned trust list, refuse to choose.
            raise VerificationError("ambiguous verifier keys")
    message = text.encode()
    verified = False
    for name, key_id, signature in sigs:
        verifier = known.get((name, key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, signature):
            raise VerificationError("note signature does not verify")
        verified = True
    if not verified:
        raise VerificationError("note is not signed by a known key")
    return text
