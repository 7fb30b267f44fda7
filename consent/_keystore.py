"""The advocate's client-side keystore: an Ed25519 signing key sealed under a passphrase.

Used by the command line on the advocate's own machine. The server never imports this module
(it holds no advocate private key, DESIGN §3.3).

File format (JSON, mode 0600)::

    {
      "version": 1,
      "kdf": {"name": "argon2id", "salt": "<b64, 16 bytes>", "iterations": 3, "lanes": 4,
              "memory_cost": 65536},
      "nonce": "<b64, 12 bytes>",
      "ciphertext": "<b64: AES-256-GCM of the 32-byte Ed25519 seed, with its tag>",
      "key_id": "<hex SHA-256 of the raw public key>",
      "public_key": "<b64 of the raw 32-byte public key>"
    }

The passphrase (UTF-8 of its NFC form) goes through Argon2id with the stored parameters
(``memory_cost`` in KiB) to a 32-byte AES-256-GCM key. The associated data is the RFC 8785
encoding of every member except ``nonce`` and ``ciphertext``, so changing the parameters, the
key id or the public key is detected like a wrong passphrase. Any failure to unlock raises one
opaque :class:`~consent._errors.KeystoreError`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from consent._errors import KeystoreError

__all__ = [
    "DEFAULT_ARGON2",
    "Argon2Params",
    "generate_signing_key",
    "key_id_of",
    "load_keystore",
    "raw_public_key",
    "read_public",
    "save_keystore",
]

KEYSTORE_VERSION = 1
SALT_BYTES = 16
NONCE_BYTES = 12
SEED_BYTES = 32

RandBytes = Callable[[int], bytes]

_UNLOCK_FAILED = "The keystore could not be unlocked: wrong passphrase or damaged file."
_MALFORMED = "The file is not a readable exchange-consent keystore."


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters; ``memory_cost`` is in KiB."""

    iterations: int = 3
    lanes: int = 4
    memory_cost: int = 64 * 1024

    # Upper bounds refuse a hostile file that would make unlocking exhaust the machine.
    MAX_ITERATIONS = 64
    MAX_LANES = 64
    MAX_MEMORY_COST = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        for value in (self.iterations, self.lanes, self.memory_cost):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("Argon2id parameters are integers.")
        if not 1 <= self.iterations <= self.MAX_ITERATIONS:
            raise ValueError("Argon2id iterations out of range.")
        if not 1 <= self.lanes <= self.MAX_LANES:
            raise ValueError("Argon2id lanes out of range.")
        if not 8 * self.lanes <= self.memory_cost <= self.MAX_MEMORY_COST:
            raise ValueError("Argon2id memory cost out of range.")


DEFAULT_ARGON2 = Argon2Params()
"""64 MiB, 3 passes, 4 lanes: the floor for files written by the command line."""


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(public_key_bytes: bytes) -> str:
    """DSSE ``keyid``: hex SHA-256 of the raw 32-byte Ed25519 public key (DESIGN §5)."""
    if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != 32:
        raise ValueError("A raw Ed25519 public key is exactly 32 bytes.")
    return hashlib.sha256(public_key_bytes).hexdigest()


def _seed_of(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    if isinstance(passphrase, str):
        data = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    elif isinstance(passphrase, bytes):
        data = passphrase
    else:
        raise TypeError("A passphrase is text or bytes.")
    if not data:
        raise KeystoreError("The passphrase must not be empty.")
    return data


def _derive(passphrase: bytes, salt: bytes, params: Argon2Params) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost,
    )
    return kdf.derive(passphrase)


def _header(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("version", "kdf", "key_id", "public_key")}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, length: int) -> bytes:
    if not isinstance(value, str):
        raise KeystoreError(_MALFORMED)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeystoreError(_MALFORMED) from None
    if base64.b64encode(data).decode("ascii") != value:
        raise KeystoreError(_MALFORMED)
    if length >= 0 and len(data) != length:
        raise KeystoreError(_MALFORMED)
    return data


def save_keystore(
    path: str | os.PathLike[str],
    private_key: Ed25519PrivateKey,
    passphrase: str | bytes,
    *,
    params: Argon2Params = DEFAULT_ARGON2,
    overwrite: bool = False,
    randbytes: RandBytes = os.urandom,
) -> None:
    """Seal ``private_key`` under ``passphrase`` and write it atomically with mode 0600.

    Refuses to replace an existing file unless ``overwrite`` is true: a lost signing key
    cannot be recovered.
    """
    secret = _passphrase_bytes(passphrase)
    salt = randbytes(SALT_BYTES)
    nonce = randbytes(NONCE_BYTES)
    if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("The random source returned the wrong number of bytes.")
    public = raw_public_key(private_key)
    doc: dict[str, Any] = {
        "version": KEYSTORE_VERSION,
        "kdf": {
            "name": "argon2id",
            "salt": _b64(salt),
            "iterations": params.iterations,
            "lanes": params.lanes,
            "memory_cost": params.memory_cost,
        },
        "key_id": key_id_of(public),
        "public_key": _b64(public),
    }
    ad = rfc8785.dumps(_header(doc))
    sealed = AESGCM(_derive(secret, salt, params)).encrypt(nonce, _seed_of(private_key), ad)
    doc["nonce"] = _b64(nonce)
    doc["ciphertext"] = _b64(sealed)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    _write_atomic(Path(path), text.encode("utf-8"), overwrite=overwrite)


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    directory = path.parent
    tmp = directory / f".{path.name}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and fails if the target exists
            except FileExistsError:
                raise KeystoreError("A keystore already exists at that path.") from None
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path, *, private: bool) -> dict[str, Any]:
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise KeystoreError("No keystore at that path.") from None
    except OSError:
        raise KeystoreError("The keystore file could not be opened.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeystoreError("The keystore path is not a regular file.")
        if private and os.name == "posix" and info.st_mode & 0o077:
            raise KeystoreError(
                f"The keystore file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); refusing to use it. "
                "Restrict it with: chmod 600 <file>."
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(1 << 16)
    finally:
        os.close(fd)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeystoreError(_MALFORMED) from None
    _check_shape(doc)
    return doc  # type: ignore[no-any-return]


def _check_shape(doc: object) -> None:
    expected = {"version", "kdf", "nonce", "ciphertext", "key_id", "public_key"}
    if not isinstance(doc, dict) or set(doc) != expected:
        raise KeystoreError(_MALFORMED)
    if doc["version"] != KEYSTORE_VERSION or isinstance(doc["version"], bool):
        raise KeystoreError("The keystore was written by an unsupported version.")
    kdf = doc["kdf"]
    if not isinstance(kdf, dict) or set(kdf) != {
        "name",
        "salt",
        "iterations",
        "lanes",
        "memory_cost",
    }:
        raise KeystoreError(_MALFORMED)
    if kdf["name"] != "argon2id":
        raise KeystoreError("The keystore uses an unsupported key derivation.")


def _public_of(doc: dict[str, Any]) -> tuple[str, bytes]:
    public = _unb64(doc["public_key"], 32)
    key_id = doc["key_id"]
    if not isinstance(key_id, str) or key_id != key_id_of(public):
        raise KeystoreError(_MALFORMED)
    return key_id, public


def read_public(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """``(key_id, raw public key)`` from a keystore, without the passphrase."""
    return _public_of(_read(Path(path), private=False))


def load_keystore(path: str | os.PathLike[str], passphrase: str | bytes) -> Ed25519PrivateKey:
    """Unlock a keystore. Refuses a file that group or others may access (POSIX)."""
    secret = _passphrase_bytes(passphrase)
    doc = _read(Path(path), private=True)
    key_id, public = _public_of(doc)
    kdf = doc["kdf"]
    try:
        params = Argon2Params(
            iterations=kdf["iterations"], lanes=kdf["lanes"], memory_cost=kdf["memory_cost"]
        )
    except ValueError:
        raise KeystoreError(_MALFORMED) from None
    salt = _unb64(kdf["salt"], -1)
    if not 8 <= len(salt) <= 64:
        raise KeystoreError(_MALFORMED)
    nonce = _unb64(doc["nonce"], NONCE_BYTES)
    sealed = _unb64(doc["ciphertext"], SEED_BYTES + 16)
    ad = rfc8785.dumps(_header(doc))
    try:
        seed = AESGCM(_derive(secret, salt, params)).decrypt(nonce, sealed, ad)
    except InvalidTag:
        raise KeystoreError(_UNLOCK_FAILED) from None
    key = Ed25519PrivateKey.from_private_bytes(seed)
    if raw_public_key(key) != public or key_id_of(public) != key_id:
        raise KeystoreError(_UNLOCK_FAILED)
    return key
