"""The advocate's keystore: Argon2id + AES-256-GCM, mode 0600, opaque failures."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from consent._errors import KeystoreError
from consent._keystore import (
    DEFAULT_ARGON2,
    Argon2Params,
    generate_signing_key,
    key_id_of,
    load_keystore,
    raw_public_key,
    read_public,
    save_keystore,
)

FAST = Argon2Params(iterations=1, lanes=1, memory_cost=8)
PASSPHRASE = "correct horse battery staple"
UNLOCK_FAILED = "The keystore could not be unlocked: wrong passphrase or damaged file."

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture
def store(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "advocate.keystore"
    save_keystore(path, key, PASSPHRASE, params=FAST)
    return path


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    path.chmod(0o600)


def test_round_trip(store: Path, key: Ed25519PrivateKey) -> None:
    loaded = load_keystore(store, PASSPHRASE)
    assert _seed(loaded) == _seed(key)
    assert raw_public_key(loaded) == raw_public_key(key)


def test_file_contents(store: Path, key: Ed25519PrivateKey) -> None:
    doc = json.loads(store.read_text())
    assert set(doc) == {"version", "kdf", "nonce", "ciphertext", "key_id", "public_key"}
    assert doc["version"] == 1
    assert doc["kdf"]["name"] == "argon2id"
    assert (doc["kdf"]["iterations"], doc["kdf"]["lanes"], doc["kdf"]["memory_cost"]) == (1, 1, 8)
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 16
    assert len(base64.b64decode(doc["nonce"])) == 12
    assert base64.b64decode(doc["public_key"]) == raw_public_key(key)
    assert doc["key_id"] == hashlib.sha256(raw_public_key(key)).hexdigest()
    assert _seed(key).hex() not in store.read_text()
    assert base64.b64encode(_seed(key)).decode() not in store.read_text()


@posix_only
def test_mode_is_0600(store: Path) -> None:
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


@posix_only
def test_mode_is_0600_whatever_the_umask(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    old = os.umask(0)
    try:
        save_keystore(tmp_path / "k", key, PASSPHRASE, params=FAST)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_no_temporary_files_left(store: Path) -> None:
    assert [p.name for p in store.parent.iterdir()] == [store.name]


def test_wrong_passphrase_fails_opaquely(store: Path) -> None:
    with pytest.raises(KeystoreError) as caught:
        load_keystore(store, "wrong horse battery staple")
    assert str(caught.value) == UNLOCK_FAILED
    assert caught.value.__cause__ is None


def test_empty_passphrase_is_refused(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with pytest.raises(KeystoreError):
        save_keystore(tmp_path / "k", key, "", params=FAST)


def test_passphrase_is_nfc_normalised(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "k"
    save_keystore(path, key, "caf\u00e9", params=FAST)
    assert _seed(load_keystore(path, "cafe\u0301")) == _seed(key)


def _flip_ciphertext(doc: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[0] ^= 1
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()


def _flip_tag(doc: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[-1] ^= 0x80
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()


def _other_nonce(doc: dict[str, Any]) -> None:
    doc["nonce"] = base64.b64encode(bytes(12)).decode()


def _other_salt(doc: dict[str, Any]) -> None:
    doc["kdf"]["salt"] = base64.b64encode(bytes(16)).decode()


def _other_iterations(doc: dict[str, Any]) -> None:
    doc["kdf"]["iterations"] = 2


def _other_memory(doc: dict[str, Any]) -> None:
    doc["kdf"]["memory_cost"] = 16


def _other_public_key(doc: dict[str, Any]) -> None:
    other = raw_public_key(generate_signing_key())
    doc["public_key"] = base64.b64encode(other).decode()
    doc["key_id"] = key_id_of(other)


TAMPER_UNLOCK = [
    _flip_ciphertext,
    _flip_tag,
    _other_nonce,
    _other_salt,
    _other_iterations,
    _other_memory,
    _other_public_key,
]


@pytest.mark.parametrize("tamper", TAMPER_UNLOCK, ids=[t.__name__ for t in TAMPER_UNLOCK])
def test_tampered_file_fails_like_a_wrong_passphrase(
    store: Path, tamper: Callable[[dict[str, Any]], None]
) -> None:
    _rewrite(store, tamper)
    with pytest.raises(KeystoreError) as caught:
        load_keystore(store, PASSPHRASE)
    assert str(caught.value) == UNLOCK_FAILED


TAMPER_SHAPE: list[Callable[[dict[str, Any]], None]] = [
    lambda d: d.update(key_id="00" * 32),  # key id does not match the public key
    lambda d: d.update(version=2),
    lambda d: d.update(extra=1),
    lambda d: d.pop("nonce"),
    lambda d: d.update(nonce="***"),
    lambda d: d.update(ciphertext=base64.b64encode(b"short").decode()),
    lambda d: d["kdf"].update(name="scrypt"),
    lambda d: d["kdf"].update(iterations=0),
    lambda d: d["kdf"].update(iterations="3"),
    lambda d: d["kdf"].update(memory_cost=2**40),  # hostile: would exhaust the machine
    lambda d: d["kdf"].update(lanes=1000),
    lambda d: d["kdf"].update(salt=base64.b64encode(b"x").decode()),
]


@pytest.mark.parametrize("tamper", TAMPER_SHAPE)
def test_malformed_file_is_refused(store: Path, tamper: Callable[[dict[str, Any]], None]) -> None:
    _rewrite(store, tamper)
    with pytest.raises(KeystoreError):
        load_keystore(store, PASSPHRASE)


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b"\xff\xfe", b"{}"])
def test_garbage_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeystoreError):
        load_keystore(path, PASSPHRASE)
    with pytest.raises(KeystoreError):
        read_public(path)


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666])
def test_refuses_group_or_world_accessible_file(store: Path, mode: int) -> None:
    store.chmod(mode)
    with pytest.raises(KeystoreError) as caught:
        load_keystore(store, PASSPHRASE)
    assert "chmod 600" in str(caught.value)
    assert f"{mode:04o}" in str(caught.value)


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_accepts_owner_only_modes(store: Path, mode: int, key: Ed25519PrivateKey) -> None:
    store.chmod(mode)
    assert _seed(load_keystore(store, PASSPHRASE)) == _seed(key)


def test_read_public_needs_no_passphrase(store: Path, key: Ed25519PrivateKey) -> None:
    store.chmod(0o644)  # the public half may be read whatever the mode
    key_id, public = read_public(store)
    assert public == raw_public_key(key)
    assert key_id == hashlib.sha256(public).hexdigest()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        load_keystore(tmp_path / "absent", PASSPHRASE)
    with pytest.raises(KeystoreError):
        read_public(tmp_path / "absent")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        read_public(tmp_path)


def test_does_not_overwrite_unless_asked(store: Path, key: Ed25519PrivateKey) -> None:
    other = generate_signing_key()
    with pytest.raises(KeystoreError):
        save_keystore(store, other, PASSPHRASE, params=FAST)
    assert _seed(load_keystore(store, PASSPHRASE)) == _seed(key)
    save_keystore(store, other, "new passphrase", params=FAST, overwrite=True)
    assert _seed(load_keystore(store, "new passphrase")) == _seed(other)
    assert [p.name for p in store.parent.iterdir()] == [store.name]


def test_injected_randomness_gives_identical_files(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    for name in ("a", "b"):
        save_keystore(
            tmp_path / name, key, PASSPHRASE, params=FAST, randbytes=lambda n: b"\x01" * n
        )
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_defaults_are_strong() -> None:
    assert DEFAULT_ARGON2.memory_cost >= 64 * 1024  # KiB
    assert DEFAULT_ARGON2.iterations >= 3
    assert DEFAULT_ARGON2.lanes == 4


def test_default_parameters_are_written(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "k"
    save_keystore(path, key, PASSPHRASE)
    kdf = json.loads(path.read_text())["kdf"]
    assert (kdf["iterations"], kdf["lanes"], kdf["memory_cost"]) == (3, 4, 65536)
    assert _seed(load_keystore(path, PASSPHRASE)) == _seed(key)


@pytest.mark.parametrize(
    "params", [{"iterations": 0}, {"lanes": 0}, {"memory_cost": 7}, {"iterations": True}]
)
def test_argon2_parameter_validation(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Argon2Params(**params)


def test_key_id_of() -> None:
    public = raw_public_key(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert key_id_of(public) == hashlib.sha256(public).hexdigest()
    assert len(key_id_of(public)) == 64
    with pytest.raises(ValueError):
        key_id_of(public[:31])
    with pytest.raises(ValueError):
        key_id_of(public + b"\x00")


def test_generate_signing_key_is_fresh() -> None:
    assert _seed(generate_signing_key()) != _seed(generate_signing_key())
