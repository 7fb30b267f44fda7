"""Encryption at rest: AES-256-GCM under a key ring, bound to table, column, row and key."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import assume, given
from hypothesis import strategies as st

from consent._atrest import BLOB_VERSION, NONCE_BYTES, DataKey, KeyRing
from consent._errors import DecryptionError, KeyFileError

KEY_A = DataKey(key_id="00000000000000aa", key=bytes(range(32)))
KEY_B = DataKey(key_id="00000000000000bb", key=bytes(range(32, 64)))

names = st.text(max_size=24)
places = st.tuples(names, names, names)


def _place(p: tuple[str, str, str]) -> dict[str, str]:
    return {"table": p[0], "column": p[1], "row_id": p[2]}


def _counter() -> Callable[[int], bytes]:
    state = {"n": 0}

    def randbytes(n: int) -> bytes:
        state["n"] += 1
        return (state["n"].to_bytes(4, "big") * n)[:n]

    return randbytes


def _lp(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">I", len(b)) + b


# -- round trip and binding --------------------------------------------------------------------


@given(plaintext=st.binary(max_size=512), place=places)
def test_round_trip(plaintext: bytes, place: tuple[str, str, str]) -> None:
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(plaintext, **_place(place))
    assert ring.decrypt(blob, **_place(place)) == plaintext


@given(plaintext=st.binary(max_size=64), place=places, other=places)
def test_blob_moved_elsewhere_fails(
    plaintext: bytes, place: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    assume(place != other)
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(plaintext, **_place(place))
    with pytest.raises(DecryptionError):
        ring.decrypt(blob, **_place(other))


@pytest.mark.parametrize(
    "other",
    [
        {"table": "persons", "column": "identity", "row_id": "r1"},  # other table
        {"table": "person", "column": "salt", "row_id": "r1"},  # other column
        {"table": "person", "column": "identity", "row_id": "r2"},  # other row
        {"table": "personi", "column": "dentity", "row_id": "r1"},  # shifted boundary
        {"table": "person", "column": "identityr", "row_id": "1"},  # shifted boundary
    ],
)
def test_moved_examples(other: dict[str, str]) -> None:
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(b"secret", table="person", column="identity", row_id="r1")
    with pytest.raises(DecryptionError):
        ring.decrypt(blob, **other)


@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_flipped_bit_fails(plaintext: bytes, data: st.DataObject) -> None:
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(plaintext, table="t", column="c", row_id="r")
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    tampered = bytearray(blob)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(tampered), table="t", column="c", row_id="r")


@given(plaintext=st.binary(max_size=64), data=st.data())
def test_truncated_or_extended_blob_fails(plaintext: bytes, data: st.DataObject) -> None:
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(plaintext, table="t", column="c", row_id="r")
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(DecryptionError):
        ring.decrypt(blob[:cut], table="t", column="c", row_id="r")
    with pytest.raises(DecryptionError):
        ring.decrypt(blob + b"\x00", table="t", column="c", row_id="r")


@given(garbage=st.binary(max_size=100))
def test_garbage_is_one_opaque_error(garbage: bytes) -> None:
    ring = KeyRing([KEY_A])
    with pytest.raises(DecryptionError) as caught:
        ring.decrypt(garbage, table="t", column="c", row_id="r")
    assert str(caught.value) == str(DecryptionError())
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_all_failures_carry_the_same_message() -> None:
    ring = KeyRing([KEY_A])
    blob = ring.encrypt(b"x", table="t", column="c", row_id="r")
    messages: set[str] = set()
    attempts: list[Callable[[], bytes]] = [
        lambda: ring.decrypt(blob, table="t", column="c", row_id="other"),
        lambda: KeyRing([KEY_B]).decrypt(blob, table="t", column="c", row_id="r"),
        lambda: ring.decrypt(blob[:-1], table="t", column="c", row_id="r"),
        lambda: ring.decrypt(b"", table="t", column="c", row_id="r"),
    ]
    for attempt in attempts:
        with pytest.raises(DecryptionError) as caught:
            attempt()
        messages.add(str(caught.value))
    assert messages == {"Decryption failed."}


# -- format ------------------------------------------------------------------------------------


def test_blob_layout_and_associated_data_are_as_documented() -> None:
    ring = KeyRing([KEY_A], randbytes=lambda n: b"\x07" * n)
    blob = ring.encrypt(b"hello", table="person", column="identity", row_id="r-1")
    kid = KEY_A.key_id.encode()
    assert blob[0] == BLOB_VERSION == 1
    assert blob[1] == len(kid) == 16
    assert blob[2:18] == kid
    assert blob[18:30] == b"\x07" * NONCE_BYTES
    assert len(blob) == 30 + len(b"hello") + 16
    ad = (
        b"exchange-consent/atrest"
        + b"\x01"
        + _lp("person")
        + _lp("identity")
        + _lp("r-1")
        + _lp(KEY_A.key_id)
    )
    # An independent AES-GCM decryption with the documented AD must succeed.
    assert AESGCM(KEY_A.key).decrypt(blob[18:30], blob[30:], ad) == b"hello"


def test_fresh_nonce_per_encryption() -> None:
    ring = KeyRing([KEY_A])
    blobs = {ring.encrypt(b"same", table="t", column="c", row_id="r") for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[18:30] for b in blobs}) == 50


def test_injected_randomness_is_deterministic() -> None:
    one = KeyRing([KEY_A], randbytes=_counter()).encrypt(b"x", table="t", column="c", row_id="r")
    two = KeyRing([KEY_A], randbytes=_counter()).encrypt(b"x", table="t", column="c", row_id="r")
    assert one == two


def test_short_random_source_is_refused() -> None:
    ring = KeyRing([KEY_A], randbytes=lambda n: b"\x00" * (n - 1))
    with pytest.raises(ValueError):
        ring.encrypt(b"x", table="t", column="c", row_id="r")


# -- keys and rotation -------------------------------------------------------------------------


def test_unknown_key_id_fails() -> None:
    blob = KeyRing([KEY_A]).encrypt(b"x", table="t", column="c", row_id="r")
    with pytest.raises(DecryptionError):
        KeyRing([KEY_B]).decrypt(blob, table="t", column="c", row_id="r")


def test_same_key_id_but_other_key_bytes_fails() -> None:
    blob = KeyRing([KEY_A]).encrypt(b"x", table="t", column="c", row_id="r")
    impostor = DataKey(key_id=KEY_A.key_id, key=KEY_B.key)
    with pytest.raises(DecryptionError):
        KeyRing([impostor]).decrypt(blob, table="t", column="c", row_id="r")


@given(plaintext=st.binary(max_size=128), place=places)
def test_rotation(plaintext: bytes, place: tuple[str, str, str]) -> None:
    old = KeyRing([KEY_A])
    blob = old.encrypt(plaintext, **_place(place))
    new = old.with_key(KEY_B)
    assert new.newest == KEY_B
    assert not old.needs_rotation(blob)
    assert new.needs_rotation(blob)
    assert new.decrypt(blob, **_place(place)) == plaintext  # old blobs still readable
    rotated = new.reencrypt(blob, **_place(place))
    assert not new.needs_rotation(rotated)
    assert new.key_id_of(rotated) == KEY_B.key_id
    assert new.decrypt(rotated, **_place(place)) == plaintext
    with pytest.raises(DecryptionError):  # the old ring does not know the new key
        old.decrypt(rotated, **_place(place))


def test_reencrypt_authenticates_first() -> None:
    ring = KeyRing([KEY_A, KEY_B])
    blob = KeyRing([KEY_A]).encrypt(b"x", table="t", column="c", row_id="r")
    with pytest.raises(DecryptionError):
        ring.reencrypt(blob, table="t", column="c", row_id="elsewhere")


def test_needs_rotation_on_malformed_blob_raises() -> None:
    with pytest.raises(DecryptionError):
        KeyRing([KEY_A]).needs_rotation(b"\x02junk")


def test_generate_key() -> None:
    keys = [KeyRing.generate_key() for _ in range(20)]
    for key in keys:
        assert len(key.key) == 32
        assert len(key.key_id) == 16 and int(key.key_id, 16) >= 0
        assert key.key_id == key.key_id.lower()
    assert len({k.key_id for k in keys}) == 20
    assert len({k.key for k in keys}) == 20


@pytest.mark.parametrize(
    ("key_id", "key"),
    [
        ("ABCDEF0123456789", bytes(32)),  # upper case
        ("abc", bytes(32)),  # too short
        ("zz00000000000000", bytes(32)),  # not hex
        ("00000000000000aa", bytes(31)),  # short key
        ("00000000000000aa", bytes(33)),  # long key
    ],
)
def test_data_key_validation(key_id: str, key: bytes) -> None:
    with pytest.raises(ValueError):
        DataKey(key_id=key_id, key=key)


def test_data_key_repr_hides_key() -> None:
    key = DataKey(key_id="00000000000000cc", key=b"\xab" * 32)
    assert "ab" * 4 not in repr(key)
    assert "171" not in repr(key)
    assert "ab" * 4 not in repr(KeyRing([key]))


def test_ring_validation() -> None:
    with pytest.raises(ValueError):
        KeyRing([])
    with pytest.raises(ValueError):
        KeyRing([KEY_A, KEY_A])
    with pytest.raises(ValueError):
        KeyRing([KEY_A]).with_key(KEY_A)


# -- serialisation -----------------------------------------------------------------------------


def test_json_round_trip_keeps_order() -> None:
    ring = KeyRing([KEY_A, KEY_B])
    text = ring.to_json()
    doc = json.loads(text)
    assert doc == {
        "version": 1,
        "keys": [
            {"key_id": KEY_A.key_id, "key": base64.b64encode(KEY_A.key).decode()},
            {"key_id": KEY_B.key_id, "key": base64.b64encode(KEY_B.key).decode()},
        ],
    }
    back = KeyRing.from_json(text)
    assert back.keys == ring.keys
    assert back.newest == KEY_B
    blob = ring.encrypt(b"x", table="t", column="c", row_id="r")
    assert KeyRing.from_json(text.encode()).decrypt(blob, table="t", column="c", row_id="r")


_GOOD = {"key_id": KEY_A.key_id, "key": base64.b64encode(KEY_A.key).decode()}


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        json.dumps({"version": 1, "keys": []}),
        json.dumps({"version": 2, "keys": [_GOOD]}),
        json.dumps({"version": True, "keys": [_GOOD]}),
        json.dumps({"keys": [_GOOD]}),
        json.dumps({"version": 1, "keys": [_GOOD], "extra": 1}),
        json.dumps({"version": 1, "keys": [_GOOD, _GOOD]}),
        json.dumps({"version": 1, "keys": [{"key_id": KEY_A.key_id}]}),
        json.dumps({"version": 1, "keys": [{**_GOOD, "key": "!!!!"}]}),
        json.dumps(
            {"version": 1, "keys": [{**_GOOD, "key": base64.b64encode(bytes(16)).decode()}]}
        ),
        json.dumps({"version": 1, "keys": [{**_GOOD, "key": _GOOD["key"] + "="}]}),
        json.dumps({"version": 1, "keys": [{**_GOOD, "key_id": "XYZ"}]}),
        json.dumps({"version": 1, "keys": [{**_GOOD, "key_id": 5}]}),
        json.dumps({"version": 1, "keys": ["x"]}),
    ],
)
def test_malformed_ring_file_is_refused(doc: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        KeyRing.from_json(doc)
    assert base64.b64encode(KEY_A.key).decode() not in str(caught.value)
