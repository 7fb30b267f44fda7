"""Server key files: mode 0600, refusal of unsafe files, environment override, rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from consent._atrest import DataKey, KeyRing
from consent._errors import KeyFileError
from consent._keyfiles import (
    ServerKeys,
    env_var_name,
    load_secret,
    read_secret_file,
    rotate_data_key,
    write_secret_file,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")

FILES = ("log-signing.key", "data-keys.json", "blind-index.key")
NO_ENV: dict[str, str] = {}


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


# -- single files ------------------------------------------------------------------------------


def test_write_creates_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_secret_file(tmp_path / "s.key", b"secret")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s.key") == 0o600
    assert read_secret_file(tmp_path / "s.key") == b"secret"


def test_write_never_overwrites(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "s.key", b"first")
    with pytest.raises(KeyFileError):
        write_secret_file(tmp_path / "s.key", b"second")
    assert read_secret_file(tmp_path / "s.key") == b"first"


def test_write_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    (tmp_path / "s.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KeyFileError):
        write_secret_file(tmp_path / "s.key", b"secret")
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o610, 0o601, 0o777])
def test_read_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    write_secret_file(tmp_path / "s.key", b"secret")
    (tmp_path / "s.key").chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        read_secret_file(tmp_path / "s.key")
    assert "chmod 600" in str(caught.value)
    assert str(tmp_path / "s.key") in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_read_accepts_owner_only(tmp_path: Path, mode: int) -> None:
    write_secret_file(tmp_path / "s.key", b"secret")
    (tmp_path / "s.key").chmod(mode)
    assert read_secret_file(tmp_path / "s.key") == b"secret"


def test_read_refuses_symlink_even_to_a_safe_file(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "real.key", b"secret")
    (tmp_path / "link.key").symlink_to(tmp_path / "real.key")
    with pytest.raises(KeyFileError) as caught:
        read_secret_file(tmp_path / "link.key")
    assert "symbolic link" in str(caught.value)


def test_read_refuses_directory_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        read_secret_file(tmp_path / "d")
    with pytest.raises(KeyFileError) as caught:
        read_secret_file(tmp_path / "absent")
    assert "missing" in str(caught.value)


# -- environment ------------------------------------------------------------------------------


def test_env_var_names() -> None:
    assert env_var_name("log_signing_key") == "CONSENT_LOG_SIGNING_KEY"
    assert env_var_name("data-keys") == "CONSENT_DATA_KEYS"


def test_env_wins_over_file(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "s.key", b"from file")
    env = {"CONSENT_BLIND_INDEX_KEY": base64.b64encode(b"from env").decode()}
    assert load_secret("blind_index_key", tmp_path / "s.key", env) == b"from env"
    assert load_secret("blind_index_key", tmp_path / "s.key", NO_ENV) == b"from file"
    # the file is not even looked at when the variable is set
    assert load_secret("blind_index_key", tmp_path / "absent", env) == b"from env"


@pytest.mark.parametrize("value", ["", "   ", "not base64!", "QUJD=", "QQ"])
def test_bad_env_value_is_refused_without_echo(tmp_path: Path, value: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_secret("blind_index_key", tmp_path / "absent", {"CONSENT_BLIND_INDEX_KEY": value})
    assert "CONSENT_BLIND_INDEX_KEY" in str(caught.value)
    assert value.strip() == "" or value not in str(caught.value)


# -- the server's key set ----------------------------------------------------------------------


def test_create_writes_three_private_files(tmp_path: Path) -> None:
    keys = ServerKeys.create(tmp_path / "data")
    directory = tmp_path / "data" / "keys"
    assert _mode(directory) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)
    for name in FILES:
        assert _mode(directory / name) == 0o600
    assert (directory / "log-signing.key").read_bytes() == _seed(keys.log_signing_key)
    assert (directory / "blind-index.key").read_bytes() == keys.blind_index_key
    assert len(keys.blind_index_key) == 32
    assert len(keys.data_keys) == 1
    assert KeyRing.from_json((directory / "data-keys.json").read_text()).keys == (
        keys.data_keys.keys
    )


def test_create_then_load(tmp_path: Path) -> None:
    created = ServerKeys.create(tmp_path)
    loaded = ServerKeys.load(tmp_path, env=NO_ENV)
    assert _seed(loaded.log_signing_key) == _seed(created.log_signing_key)
    assert loaded.data_keys.keys == created.data_keys.keys
    assert loaded.blind_index_key == created.blind_index_key
    blob = created.data_keys.encrypt(b"x", table="t", column="c", row_id="r")
    assert loaded.data_keys.decrypt(blob, table="t", column="c", row_id="r") == b"x"


def test_create_draws_independent_keys(tmp_path: Path) -> None:
    one = ServerKeys.create(tmp_path / "one")
    two = ServerKeys.create(tmp_path / "two")
    assert _seed(one.log_signing_key) != _seed(two.log_signing_key)
    assert one.blind_index_key != two.blind_index_key
    assert one.blind_index_key != _seed(one.log_signing_key)
    assert one.data_keys.newest.key != two.data_keys.newest.key


def test_create_never_replaces_existing_keys(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    before = {n: (tmp_path / "keys" / n).read_bytes() for n in FILES}
    with pytest.raises(KeyFileError):
        ServerKeys.create(tmp_path)
    assert {n: (tmp_path / "keys" / n).read_bytes() for n in FILES} == before


def test_create_refuses_when_one_file_is_already_there(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir(mode=0o700)
    write_secret_file(tmp_path / "keys" / "blind-index.key", b"k" * 32)
    with pytest.raises(KeyFileError):
        ServerKeys.create(tmp_path)
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["blind-index.key"]


def test_create_tightens_an_existing_keys_directory(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir(mode=0o755)
    ServerKeys.create(tmp_path)
    assert _mode(tmp_path / "keys") == 0o700


def test_injected_randomness(tmp_path: Path) -> None:
    one = ServerKeys.create(tmp_path / "a", randbytes=lambda n: b"\x05" * n)
    two = ServerKeys.create(tmp_path / "b", randbytes=lambda n: b"\x05" * n)
    assert _seed(one.log_signing_key) == _seed(two.log_signing_key) == b"\x05" * 32
    assert one.data_keys.keys == two.data_keys.keys


@pytest.mark.parametrize("name", FILES)
def test_load_refuses_a_0644_key_file(tmp_path: Path, name: str) -> None:
    ServerKeys.create(tmp_path)
    (tmp_path / "keys" / name).chmod(0o644)
    with pytest.raises(KeyFileError) as caught:
        ServerKeys.load(tmp_path, env=NO_ENV)
    assert name in str(caught.value)


def test_load_refuses_a_writable_keys_directory(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    (tmp_path / "keys").chmod(0o777)
    with pytest.raises(KeyFileError) as caught:
        ServerKeys.load(tmp_path, env=NO_ENV)
    assert "chmod 700" in str(caught.value)


def test_load_refuses_missing_and_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        ServerKeys.load(tmp_path, env=NO_ENV)
    ServerKeys.create(tmp_path)
    path = tmp_path / "keys" / "blind-index.key"
    path.unlink()
    write_secret_file(path, b"short")
    with pytest.raises(KeyFileError):
        ServerKeys.load(tmp_path, env=NO_ENV)


def test_load_from_environment_only(tmp_path: Path) -> None:
    seed = bytes(range(32))
    ring = KeyRing([DataKey(key_id="00000000000000aa", key=b"\x11" * 32)])
    blind = b"\x22" * 32
    env = {
        "CONSENT_LOG_SIGNING_KEY": base64.b64encode(seed).decode(),
        "CONSENT_DATA_KEYS": base64.b64encode(ring.to_json().encode()).decode(),
        "CONSENT_BLIND_INDEX_KEY": base64.b64encode(blind).decode(),
    }
    keys = ServerKeys.load(tmp_path / "no such dir", env=env)
    assert _seed(keys.log_signing_key) == seed
    assert keys.data_keys.keys == ring.keys
    assert keys.blind_index_key == blind


def test_env_overrides_one_file(tmp_path: Path) -> None:
    created = ServerKeys.create(tmp_path)
    env = {"CONSENT_BLIND_INDEX_KEY": base64.b64encode(b"\x33" * 32).decode()}
    keys = ServerKeys.load(tmp_path, env=env)
    assert keys.blind_index_key == b"\x33" * 32
    assert _seed(keys.log_signing_key) == _seed(created.log_signing_key)


def test_env_key_of_wrong_length_is_refused(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    env = {"CONSENT_LOG_SIGNING_KEY": base64.b64encode(bytes(31)).decode()}
    with pytest.raises(KeyFileError):
        ServerKeys.load(tmp_path, env=env)


def test_repr_hides_secrets(tmp_path: Path) -> None:
    keys = ServerKeys.create(tmp_path, randbytes=lambda n: b"\xab" * n)
    text = repr(keys)
    assert "ab" * 8 not in text and "171" not in text


# -- rotation ------------------------------------------------------------------------------------


def test_rotation_appends_and_keeps_old_blobs_readable(tmp_path: Path) -> None:
    created = ServerKeys.create(tmp_path)
    old_key = created.data_keys.newest
    blob = created.data_keys.encrypt(b"identity", table="person", column="identity", row_id="p")

    new_key = rotate_data_key(tmp_path, env=NO_ENV)

    ring = ServerKeys.load(tmp_path, env=NO_ENV).data_keys
    assert ring.keys == (old_key, new_key)
    assert ring.newest == new_key != old_key
    assert _mode(tmp_path / "keys" / "data-keys.json") == 0o600
    assert ring.needs_rotation(blob)
    assert ring.decrypt(blob, table="person", column="identity", row_id="p") == b"identity"
    fresh = ring.reencrypt(blob, table="person", column="identity", row_id="p")
    assert ring.key_id_of(fresh) == new_key.key_id

    third = rotate_data_key(tmp_path, env=NO_ENV)
    ring = ServerKeys.load(tmp_path, env=NO_ENV).data_keys
    assert [k.key_id for k in ring.keys] == [old_key.key_id, new_key.key_id, third.key_id]
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted(FILES)


def test_rotation_in_progress_blocks_a_second_one(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    before = (tmp_path / "keys" / "data-keys.json").read_bytes()
    write_secret_file(tmp_path / "keys" / ".data-keys.json.rotating", b"")
    with pytest.raises(KeyFileError) as caught:
        rotate_data_key(tmp_path, env=NO_ENV)
    assert "rotation" in str(caught.value)
    assert (tmp_path / "keys" / "data-keys.json").read_bytes() == before
    assert (tmp_path / "keys" / ".data-keys.json.rotating").exists()


def test_rotation_of_a_damaged_ring_changes_nothing(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    ring_file = tmp_path / "keys" / "data-keys.json"
    ring_file.unlink()
    write_secret_file(ring_file, b"{not json")
    with pytest.raises(KeyFileError):
        rotate_data_key(tmp_path, env=NO_ENV)
    assert ring_file.read_bytes() == b"{not json"
    assert not (tmp_path / "keys" / ".data-keys.json.rotating").exists()


def test_rotation_refuses_an_unsafe_ring_file(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path)
    (tmp_path / "keys" / "data-keys.json").chmod(0o644)
    with pytest.raises(KeyFileError):
        rotate_data_key(tmp_path, env=NO_ENV)


def test_rotation_refused_when_ring_comes_from_environment(tmp_path: Path) -> None:
    created = ServerKeys.create(tmp_path)
    env = {"CONSENT_DATA_KEYS": base64.b64encode(created.data_keys.to_json().encode()).decode()}
    with pytest.raises(KeyFileError):
        rotate_data_key(tmp_path, env=env)
    assert len(json.loads((tmp_path / "keys" / "data-keys.json").read_text())["keys"]) == 1


def test_rotation_draws_a_distinct_key_id(tmp_path: Path) -> None:
    ServerKeys.create(tmp_path, randbytes=lambda n: b"\x01" * n)
    draws = iter([b"\x01" * 8, b"\x02" * 32, b"\x03" * 8, b"\x04" * 32])
    key = rotate_data_key(tmp_path, env=NO_ENV, randbytes=lambda n: next(draws))
    assert key.key_id == "03" * 8
