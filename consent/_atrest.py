"""Encryption at rest: AES-256-GCM under a ring of data keys, bound to table, column and row.

Blob format (version 1)::

    0x01 || len(key_id) (1 byte) || key_id (ASCII lowercase hex) || nonce (12 bytes)
         || ciphertext || tag (16 bytes)

The associated data binds the ciphertext to where it is stored and to the key that made it::

    b"exchange-consent/atrest" || 0x01 || lp(table) || lp(column) || lp(row_id) || lp(key_id)

where ``lp(x)`` is the 4-byte big-endian length of the UTF-8 bytes of ``x`` followed by those
bytes, so no two distinct (table, column, row_id, key_id) tuples share associated data.

A blob copied to another row, column or table, a flipped bit, a truncated blob or a key id the
ring does not hold all raise the same :class:`~consent._errors.DecryptionError`, with the same
message: the caller learns nothing about what was wrong.

Key ring file (``data-keys.json``)::

    {"version": 1, "keys": [{"key_id": "<16 hex>", "key": "<standard base64 of 32 bytes>"}, ...]}

Keys are listed oldest first; the last one is the newest and is used for every new encryption.
Keys are never removed by this module: a ring only grows (see ``_keyfiles.rotate_data_key``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent._errors import DecryptionError, KeyFileError

__all__ = [
    "BLOB_VERSION",
    "KEY_BYTES",
    "NONCE_BYTES",
    "DataKey",
    "KeyRing",
    "RandBytes",
]

BLOB_VERSION = 1
RING_FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_HEX_CHARS = 16
_AD_LABEL = b"exchange-consent/atrest"
_KEY_ID_RE = re.compile(r"[0-9a-f]{8,64}")

RandBytes = Callable[[int], bytes]
"""A source of random bytes, ``os.urandom`` unless a test injects a deterministic one."""


@dataclass(frozen=True, slots=True)
class DataKey:
    """One AES-256 data-encryption key and its short public identifier."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or _KEY_ID_RE.fullmatch(self.key_id) is None:
            raise ValueError("A data key id is 8 to 64 lowercase hexadecimal characters.")
        if not isinstance(self.key, bytes) or len(self.key) != KEY_BYTES:
            raise ValueError("A data key is exactly 32 bytes.")


def _lp(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def _associated_data(table: str, column: str, row_id: str, key_id: str) -> bytes:
    return _AD_LABEL + bytes([BLOB_VERSION]) + _lp(table) + _lp(column) + _lp(row_id) + _lp(key_id)


def _check_place(table: str, column: str, row_id: str) -> None:
    for value in (table, column, row_id):
        if not isinstance(value, str):
            raise TypeError("table, column and row_id must be text.")


class KeyRing:
    """An ordered, non-empty set of data keys; the last one (``newest``) encrypts."""

    __slots__ = ("_by_id", "_keys", "_randbytes")

    def __init__(self, keys: Sequence[DataKey], *, randbytes: RandBytes = os.urandom) -> None:
        keys = tuple(keys)
        if not keys:
            raise ValueError("A key ring holds at least one key.")
        by_id: dict[str, DataKey] = {}
        for key in keys:
            if not isinstance(key, DataKey):
                raise TypeError("A key ring holds DataKey objects.")
            if key.key_id in by_id:
                raise ValueError("Key ids in a key ring must be distinct.")
            by_id[key.key_id] = key
        self._keys = keys
        self._by_id = by_id
        self._randbytes = randbytes

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={[k.key_id for k in self._keys]!r})"

    @property
    def keys(self) -> tuple[DataKey, ...]:
        """All keys, oldest first."""
        return self._keys

    @property
    def newest(self) -> DataKey:
        """The key every new encryption uses: the last one in the ring."""
        return self._keys[-1]

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    # -- keys -------------------------------------------------------------------------------

    @staticmethod
    def generate_key(*, randbytes: RandBytes = os.urandom) -> DataKey:
        """A fresh random 32-byte key with a random 16-hex-character id."""
        key_id = randbytes(KEY_ID_HEX_CHARS // 2).hex()
        return DataKey(key_id=key_id, key=randbytes(KEY_BYTES))

    def with_key(self, key: DataKey) -> KeyRing:
        """A new ring with ``key`` appended as the newest. Refuses a key id already present."""
        return KeyRing((*self._keys, key), randbytes=self._randbytes)

    # -- encryption -------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Encrypt under the newest key with a fresh random 96-bit nonce."""
        _check_place(table, column, row_id)
        key = self.newest
        nonce = self._randbytes(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("The random source returned the wrong number of bytes.")
        ad = _associated_data(table, column, row_id, key.key_id)
        sealed = AESGCM(key.key).encrypt(nonce, bytes(plaintext), ad)
        kid = key.key_id.encode("ascii")
        return bytes([BLOB_VERSION, len(kid)]) + kid + nonce + sealed

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Decrypt with the key the blob names. Any failure is one opaque DecryptionError."""
        _check_place(table, column, row_id)
        try:
            key_id, nonce, sealed = _parse(blob)
            key = self._by_id[key_id]
            ad = _associated_data(table, column, row_id, key_id)
            return AESGCM(key.key).decrypt(nonce, sealed, ad)
        except (_MalformedError, KeyError, InvalidTag):
            raise DecryptionError() from None

    def key_id_of(self, blob: bytes) -> str:
        """The key id a blob names (not authenticated until the blob is decrypted)."""
        try:
            return _parse(blob)[0]
        except _MalformedError:
            raise DecryptionError() from None

    def needs_rotation(self, blob: bytes) -> bool:
        """True when the blob is not under the newest key. Malformed blobs raise."""
        return self.key_id_of(blob) != self.newest.key_id

    def reencrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Authenticate and decrypt ``blob``, then encrypt it afresh under the newest key.

        Always returns a new blob (fresh nonce), even when the blob already uses the newest
        key; callers that want to skip such rows ask :meth:`needs_rotation` first.
        """
        plaintext = self.decrypt(blob, table=table, column=column, row_id=row_id)
        return self.encrypt(plaintext, table=table, column=column, row_id=row_id)

    # -- serialisation ----------------------------------------------------------------------

    def to_json(self) -> str:
        """The key ring file text (contains the secret keys)."""
        doc = {
            "version": RING_FORMAT_VERSION,
            "keys": [
                {"key_id": k.key_id, "key": base64.b64encode(k.key).decode("ascii")}
                for k in self._keys
            ],
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, randbytes: RandBytes = os.urandom) -> KeyRing:
        """Parse a key ring file. Any defect raises KeyFileError (never echoing key bytes)."""
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise KeyFileError("The data key ring is not valid JSON.") from None
        if not isinstance(doc, dict) or set(doc) != {"version", "keys"}:
            raise KeyFileError("The data key ring must have exactly 'version' and 'keys'.")
        if doc["version"] != RING_FORMAT_VERSION or isinstance(doc["version"], bool):
            raise KeyFileError("The data key ring has an unsupported version.")
        entries = doc["keys"]
        if not isinstance(entries, list) or not entries:
            raise KeyFileError("The data key ring must list at least one key.")
        keys: list[DataKey] = []
        for entry in entries:
            if not isinstance(entry, dict) or set(entry) != {"key_id", "key"}:
                raise KeyFileError("Each data key must have exactly 'key_id' and 'key'.")
            key_id, encoded = entry["key_id"], entry["key"]
            if not isinstance(key_id, str) or not isinstance(encoded, str):
                raise KeyFileError("A data key's 'key_id' and 'key' must be text.")
            try:
                raw = base64.b64decode(encoded, validate=True)
                if base64.b64encode(raw).decode("ascii") != encoded:
                    raise ValueError("not canonical base64")
                keys.append(DataKey(key_id=key_id, key=raw))
            except (binascii.Error, ValueError):
                raise KeyFileError(
                    "A data key must have a lowercase hex id and a base64 32-byte key."
                ) from None
        try:
            return cls(keys, randbytes=randbytes)
        except ValueError:
            raise KeyFileError("Key ids in the data key ring must be distinct.") from None


class _MalformedError(Exception):
    pass


def _parse(blob: bytes) -> tuple[str, bytes, bytes]:
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise _MalformedError
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != BLOB_VERSION:
        raise _MalformedError
    kid_len = blob[1]
    start = 2 + kid_len
    if len(blob) < start + NONCE_BYTES + TAG_BYTES:
        raise _MalformedError
    try:
        key_id = blob[2:start].decode("ascii")
    except UnicodeDecodeError:
        raise _MalformedError from None
    if _KEY_ID_RE.fullmatch(key_id) is None:
        raise _MalformedError
    nonce = blob[start : start + NONCE_BYTES]
    return key_id, nonce, blob[start + NONCE_BYTES :]
