"""Signed notes and DSSE PAE: the shared vectors, then the spec's limits."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    MAX_NOTE_SIGNATURES,
    FormatError,
    Signer,
    VerificationError,
    Verifier,
    open_note,
    pae,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
NOTE_FILE = VECTORS / "signed-note.json"
ABSENT = f"conformance vectors not found at {NOTE_FILE} (expected ../shared/vectors)"


def _vectors() -> dict[str, Any]:
    if not NOTE_FILE.is_file():
        pytest.skip(ABSENT)
    data: dict[str, Any] = json.loads(NOTE_FILE.read_text(encoding="utf-8"))
    return data


def _verify_ids() -> list[Any]:
    if not NOTE_FILE.is_file():
        return [pytest.param(-1, marks=pytest.mark.skip(reason=ABSENT), id="vectors-absent")]
    cases = json.loads(NOTE_FILE.read_text(encoding="utf-8"))["verify"]
    return [pytest.param(i, id=c["desc"]) for i, c in enumerate(cases)]


def test_sign_vector_byte_for_byte() -> None:
    for case in _vectors()["sign"]:
        signer = Signer.from_skey(case["skey"])
        assert sign_note(case["text"], [signer]) == case["signed"]
        assert signer.verifier.vkey == case["vkey"]
        assert signer.skey == case["skey"]
        assert open_note(case["signed"], [Verifier.from_vkey(case["vkey"])]) == case["text"]


@pytest.mark.parametrize("number", _verify_ids())
def test_verify_vectors(number: int) -> None:
    case = _vectors()["verify"][number]
    verifier = Verifier.from_vkey(case["vkey"])
    if case["valid"]:
        assert open_note(case["note"], [verifier]) == case["text"]
    else:
        with pytest.raises(VerificationError):
            open_note(case["note"], [verifier])


def test_vkey_format() -> None:
    data = _vectors()
    assert "SHA-256(name || 0x0A || 0x01 || public key)[:4]" in data["vkey_format"]
    for case in data["sign"]:
        name, hex_id, key64 = case["vkey"].split("+")
        raw = base64.b64decode(key64)
        verifier = Verifier(name, raw[1:])
        assert raw[0] == 1 and len(raw) == 33
        assert verifier.vkey == case["vkey"]
        assert verifier.key_id.hex() == hex_id
        assert Verifier.from_vkey(verifier.vkey) == verifier


def test_dsse_pae_vector() -> None:
    case = _vectors()["dsse_pae"]
    assert pae(case["payloadType"], case["payload"].encode()) == case["pae"].encode()


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("тип", "ж".encode()) == b"DSSEv1 6 " + "тип".encode() + b" 2 " + "ж".encode()


def _signer(name: str, seed: int) -> Signer:
    return Signer(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def test_several_signatures_any_known_key_opens() -> None:
    signers = [_signer(f"example.org/s{i}", i) for i in range(1, 5)]
    note = sign_note("hello\n", signers)
    assert note.count("\n\u2014 ") == 4
    for s in signers:
        assert open_note(note, [s.verifier]) == "hello\n"
    assert open_note(note, [s.verifier for s in signers]) == "hello\n"
    stranger = _signer("example.org/stranger", 9)
    with pytest.raises(VerificationError):
        open_note(note, [stranger.verifier])


def test_bad_signature_from_a_known_key_rejects_even_with_a_good_one() -> None:
    good, other = _signer("log.example/a", 1), _signer("log.example/b", 2)
    note = sign_note("text\n", [good, other])
    text, sigs = note.split("\n\n")
    lines = sigs.splitlines()
    raw = bytearray(base64.b64decode(lines[1].split(" ")[2]))
    raw[10] ^= 1
    lines[1] = f"\u2014 log.example/b {base64.b64encode(bytes(raw)).decode()}"
    tampered = text + "\n\n" + "\n".join(lines) + "\n"
    assert open_note(tampered, [good.verifier]) == "text\n"  # unknown keys are ignored
    with pytest.raises(VerificationError):
        open_note(tampered, [good.verifier, other.verifier])
    # The same key signing twice, once badly: still rejected.
    raw_a = bytearray(base64.b64decode(lines[0].split(" ")[2]))
    raw_a[10] ^= 1
    doubled = note + f"\u2014 log.example/a {base64.b64encode(bytes(raw_a)).decode()}\n"
    with pytest.raises(VerificationError):
        open_note(doubled, [good.verifier])


def test_same_name_different_key_is_an_unknown_key() -> None:
    real, impostor = _signer("log.example", 1), _signer("log.example", 2)
    note = sign_note("x\n", [impostor])
    with pytest.raises(VerificationError):
        open_note(note, [real.verifier])
    with pytest.raises(VerificationError):  # two keys under one (name, id): refuse to choose
        open_note(note, [real.verifier, FakeId(impostor, real.key_id)])


class FakeId(Verifier):
    """A verifier claiming another key's id, as a poisoned trust list would."""

    def __init__(self, signer: Signer, key_id: bytes) -> None:
        super().__init__(signer.name, signer.verifier.public_key)
        self.key_id = key_id


@pytest.mark.parametrize(
    "note",
    [
        "no signatures\n",
        "text\n\n",
        "text\n\n\u2014 name c2ln\n",  # signature too short
        "text\n\n- name AAAAAAAAAA==\n",  # not an em dash
        "text\n\n\u2014 na+me AAAAAAAAAA==\n",  # plus in the name
        "text\n\n\u2014 name AAAAAAAAAA==",  # no final newline
        "text\n\n\u2014 name !!!!\n",
        "te\x01xt\n\n\u2014 name AAAAAAAAAA==\n",  # control character
        "text\n\n\u2014 name AAAAAAAAAA==\n\n",
        "text\ud800\n\n\u2014 name AAAAAAAAAA==\n",  # not encodable as UTF-8
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(FormatError):
        open_note(note, [_signer("name", 1).verifier])


def test_signature_count_limit() -> None:
    signer = _signer("k", 1)
    one = sign_note("t\n", [signer])
    line = one.split("\n\n")[1]
    at_limit = "t\n\n" + line * MAX_NOTE_SIGNATURES
    assert open_note(at_limit, [signer.verifier]) == "t\n"
    with pytest.raises(FormatError):
        open_note(at_limit + line, [signer.verifier])
    many = [_signer(f"k{i}", i % 250 + 1) for i in range(MAX_NOTE_SIGNATURES + 1)]
    with pytest.raises(FormatError):
        sign_note("t\n", many)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\nb"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(FormatError):
        _signer(name, 1)


@pytest.mark.parametrize(
    "text", ["no newline", "", "bad\x00char\n", "x\ud800\n"]
)  # fmt: skip
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(FormatError):
        sign_note(text, [_signer("k", 1)])


def test_sign_rejects_no_or_repeated_signers() -> None:
    s = _signer("k", 1)
    with pytest.raises(FormatError):
        sign_note("t\n", [])
    with pytest.raises(FormatError):
        sign_note("t\n", [s, s])


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # bad base64
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",  # 34 bytes
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(FormatError):
        Verifier.from_vkey(vkey)


def test_vkey_with_another_algorithm_is_refused() -> None:
    raw = _signer("k", 1).verifier.public_key
    key64 = base64.b64encode(b"\x04" + raw).decode()
    with pytest.raises(FormatError):
        Verifier.from_vkey(f"k+00000000+{key64}")


@pytest.mark.parametrize(
    "skey",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
    ],
)
def test_malformed_skeys(skey: str) -> None:
    with pytest.raises(FormatError):
        Signer.from_skey(skey)


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(blacklist_categories=["Cc", "Cs"]) | st.just("\n"), max_size=200
    ),
    seed=st.binary(min_size=32, max_size=32),
)
def test_round_trip_and_any_text_change_fails(text: str, seed: bytes) -> None:
    text += "\n"
    signer = Signer("prop.example/log", Ed25519PrivateKey.from_private_bytes(seed))
    note = sign_note(text, [signer])
    assert open_note(note, [signer.verifier]) == text
    assert Signer.from_skey(signer.skey).skey == signer.skey
    changed = "X" + note
    with pytest.raises(VerificationError):
        open_note(changed, [signer.verifier])
