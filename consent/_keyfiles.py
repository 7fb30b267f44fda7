"""Server key files under the data directory (DESIGN §10), or environment variables.

Layout::

    <data_dir>/keys/               mode 0700
        log-signing.key            mode 0600, the raw 32-byte Ed25519 seed of the log key
        data-keys.json             mode 0600, the data-encryption key ring (see ``_atrest``)
        blind-index.key            mode 0600, the raw 32-byte blind-index HMAC key

Each can instead come from an environment variable holding the standard base64 of the same
bytes as the file: ``CONSENT_LOG_SIGNING_KEY``, ``CONSENT_DATA_KEYS`` (base64 of the JSON text)
and ``CONSENT_BLIND_INDEX_KEY``. When the variable is set it wins and the file is not read.

Files are created with ``O_CREAT | O_EXCL`` and mode 0600, then fsynced, and so is the
directory that holds them. Existing key files are never overwritten, except the key ring,
which :func:`rotate_data_key` replaces atomically (temporary file, fsync, rename, fsync of the
directory). Reading refuses symlinks, non-regular files, and files or a key directory that
group or others may access.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from consent._atrest import DataKey, KeyRing, RandBytes
from consent._errors import KeyFileError

__all__ = [
    "BLIND_INDEX_FILE",
    "DATA_KEYS_FILE",
    "KEYS_DIR",
    "LOG_SIGNING_FILE",
    "ServerKeys",
    "env_var_name",
    "load_secret",
    "read_secret_file",
    "rotate_data_key",
    "write_secret_file",
]

KEYS_DIR = "keys"
LOG_SIGNING_FILE = "log-signing.key"
DATA_KEYS_FILE = "data-keys.json"
BLIND_INDEX_FILE = "blind-index.key"
_LOG_SIGNING_NAME = "log_signing_key"
_DATA_KEYS_NAME = "data_keys"
_BLIND_INDEX_NAME = "blind_index_key"
_MAX_SECRET_BYTES = 1 << 20
_ROTATION_TMP = ".data-keys.json.rotating"

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_POSIX = os.name == "posix"


def env_var_name(name: str) -> str:
    """``log_signing_key`` → ``CONSENT_LOG_SIGNING_KEY``."""
    return "CONSENT_" + name.upper().replace("-", "_")


def _fsync_dir(directory: Path) -> None:
    if not _POSIX:
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with mode 0600, write, fsync. No dir fsync."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_NOFOLLOW | _O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def write_secret_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create a new secret file with mode 0600 and make it durable. Never overwrites."""
    target = Path(path)
    try:
        _write_new(target, bytes(data))
    except FileExistsError:
        raise KeyFileError(f"Key file {target} already exists; refusing to overwrite.") from None
    _fsync_dir(target.parent)


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """Read a secret file, refusing symlinks, non-regular files and group/other access."""
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"Key file {target} is missing.") from None
    except OSError:
        if target.is_symlink():
            raise KeyFileError(f"Key file {target} is a symbolic link; refusing it.") from None
        raise KeyFileError(f"Key file {target} could not be opened.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"Key file {target} is not a regular file.")
        if _POSIX and info.st_mode & 0o077:
            raise KeyFileError(
                f"Key file {target} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); refusing it. "
                "Restrict it with: chmod 600 <file>."
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_SECRET_BYTES:
                raise KeyFileError(f"Key file {target} is implausibly large.")
    finally:
        os.close(fd)
    return b"".join(chunks)


def load_secret(name: str, path: str | os.PathLike[str], env: Mapping[str, str]) -> bytes:
    """The secret ``name``: from ``CONSENT_<NAME>`` (base64) when set, else from ``path``."""
    var = env_var_name(name)
    if var in env:
        value = env[var].strip()
        if not value:
            raise KeyFileError(f"{var} is set but empty.")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            data = None
        if data is None or base64.b64encode(data).decode("ascii") != value:
            raise KeyFileError(f"{var} is not valid standard base64.")
        return data
    return read_secret_file(path)


def _keys_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / KEYS_DIR


def _check_keys_dir(directory: Path) -> None:
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        raise KeyFileError(f"Key directory {directory} is missing.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise KeyFileError(f"Key directory {directory} is not a directory.")
    if _POSIX and info.st_mode & 0o022:
        raise KeyFileError(
            f"Key directory {directory} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); refusing it. "
            "Restrict it with: chmod 700 <dir>."
        )


def _seed_of(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _exact32(data: bytes, what: str) -> bytes:
    if len(data) != 32:
        raise KeyFileError(f"The {what} must be exactly 32 bytes.")
    return data


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """The server's three secrets."""

    log_signing_key: Ed25519PrivateKey = field(repr=False)
    data_keys: KeyRing = field(repr=False)
    blind_index_key: bytes = field(repr=False)

    @classmethod
    def create(
        cls, data_dir: str | os.PathLike[str], *, randbytes: RandBytes = os.urandom
    ) -> ServerKeys:
        """Generate all three keys and write them under ``data_dir/keys`` (mode 0700).

        Refuses to run if any of the three files already exists: keys are never replaced.
        """
        base = Path(data_dir)
        directory = base / KEYS_DIR
        base.mkdir(parents=True, exist_ok=True)
        created = False
        try:
            directory.mkdir(mode=0o700)
            created = True
        except FileExistsError:
            if directory.is_symlink() or not directory.is_dir():
                raise KeyFileError(f"Key directory {directory} is not a directory.") from None
        os.chmod(directory, 0o700)
        if created:
            _fsync_dir(base)
        for name in (LOG_SIGNING_FILE, DATA_KEYS_FILE, BLIND_INDEX_FILE):
            if os.path.lexists(directory / name):
                raise KeyFileError(
                    f"Key file {directory / name} already exists; refusing to overwrite."
                )

        seed = randbytes(32)
        signing = Ed25519PrivateKey.from_private_bytes(_exact32(seed, "log signing key"))
        ring = KeyRing([KeyRing.generate_key(randbytes=randbytes)])
        blind = _exact32(randbytes(32), "blind-index key")
        contents = (
            (LOG_SIGNING_FILE, _seed_of(signing)),
            (DATA_KEYS_FILE, ring.to_json().encode("utf-8")),
            (BLIND_INDEX_FILE, blind),
        )
        written: list[Path] = []
        try:
            for name, data in contents:
                _write_new(directory / name, data)
                written.append(directory / name)
        except BaseException as exc:
            for path in written:  # leave no half-made key set behind
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if isinstance(exc, FileExistsError):
                raise KeyFileError(f"A key file appeared in {directory} meanwhile.") from None
            raise
        _fsync_dir(directory)
        return cls(log_signing_key=signing, data_keys=ring, blind_index_key=blind)

    @classmethod
    def load(
        cls, data_dir: str | os.PathLike[str], env: Mapping[str, str] = os.environ
    ) -> ServerKeys:
        """Read the three keys, each from its environment variable if set, else its file."""
        directory = _keys_dir(data_dir)
        names = (_LOG_SIGNING_NAME, _DATA_KEYS_NAME, _BLIND_INDEX_NAME)
        if not all(env_var_name(n) in env for n in names):
            _check_keys_dir(directory)
        seed = load_secret(_LOG_SIGNING_NAME, directory / LOG_SIGNING_FILE, env)
        signing = Ed25519PrivateKey.from_private_bytes(_exact32(seed, "log signing key"))
        ring_bytes = load_secret(_DATA_KEYS_NAME, directory / DATA_KEYS_FILE, env)
        ring = KeyRing.from_json(ring_bytes)
        blind = _exact32(
            load_secret(_BLIND_INDEX_NAME, directory / BLIND_INDEX_FILE, env), "blind-index key"
        )
        return cls(log_signing_key=signing, data_keys=ring, blind_index_key=blind)


def rotate_data_key(
    data_dir: str | os.PathLike[str],
    *,
    env: Mapping[str, str] = os.environ,
    randbytes: RandBytes = os.urandom,
) -> DataKey:
    """Append a fresh key to the ring file atomically and return it (the new ``newest``).

    Old keys stay in the ring, so existing blobs still decrypt; re-encrypting them is the
    caller's job (``KeyRing.needs_rotation`` / ``KeyRing.reencrypt``). A temporary file created
    with ``O_EXCL`` serialises concurrent rotations: a second one fails instead of losing a
    key. Refused when ``CONSENT_DATA_KEYS`` is set, since the file is then not the ring in use.
    """
    var = env_var_name(_DATA_KEYS_NAME)
    if var in env:
        raise KeyFileError(f"{var} is set; rotate the key ring where it is kept.")
    directory = _keys_dir(data_dir)
    _check_keys_dir(directory)
    target = directory / DATA_KEYS_FILE
    tmp = directory / _ROTATION_TMP
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_NOFOLLOW | _O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{tmp} exists: another rotation is running, or one was interrupted "
            "(then check the ring file and remove it)."
        ) from None
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            ring = KeyRing.from_json(read_secret_file(target))
            key = KeyRing.generate_key(randbytes=randbytes)
            for _ in range(8):
                if key.key_id not in ring:
                    break
                key = KeyRing.generate_key(randbytes=randbytes)
            else:
                raise KeyFileError("Could not draw a fresh data key id.")
            view = memoryview(ring.with_key(key).to_json().encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    return key
