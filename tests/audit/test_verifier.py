"""The offline log verifier against logs built here, honest and tampered."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    STATEMENT_PAYLOAD_TYPE,
    Checkpoint,
    FormatError,
    LogVerificationError,
    Signer,
    VerificationError,
    leaf_hash,
    pae,
    read_dump,
    root_from_leaf_hashes,
    sign_checkpoint,
    verify_log,
)

ORIGIN = "consent.test/log"
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
PERSON = "5b0b1c4e-7d43-4b8e-9a55-2f6a1d0c9e11"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def advocate(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def key_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()


def event(tag: str, **members: Any) -> bytes:
    body = {"tag": tag, "time": "2026-11-22T10:00:00.000000Z", "actor": None, **members}
    return rfc8785.dumps(body)


def registered(key: Ed25519PrivateKey) -> bytes:
    return event(
        "advocate:key:registered",
        key_id=key_id(key),
        public_key=b64(raw_public(key)),
        user_id="u-" + key_id(key)[:8],
        organisation_id="org-1",
    )


def approved(key: Ed25519PrivateKey) -> bytes:
    return event("admin:key:approved", key_id=key_id(key))


def revoked(key: Ed25519PrivateKey) -> bytes:
    return event("admin:key:revoked", key_id=key_id(key))


def payload(n: int, previous: bytes | None = None) -> bytes:
    """A statement payload; ``previous`` is the payload of the person's statement before."""
    return rfc8785.dumps(
        {
            "type": "exchange-consent/statement/v1",
            "person": {"id": PERSON, "commitment": "ab" * 32},
            "position": "refuses",
            "stated_on": f"2026-11-0{n % 9 + 1}",
            "channel": "letter",
            "evidence": [],
            "duress_concern": False,
            "previous": None if previous is None else hashlib.sha256(previous).hexdigest(),
        }
    )


def signature(key: Ed25519PrivateKey, body: bytes) -> dict[str, str]:
    return {"keyid": key_id(key), "sig": b64(key.sign(pae(STATEMENT_PAYLOAD_TYPE, body)))}


def recorded(body: bytes, *keys: Ed25519PrivateKey) -> bytes:
    envelope = {
        "payloadType": STATEMENT_PAYLOAD_TYPE,
        "payload": b64(body),
        "signatures": [signature(k, body) for k in keys],
    }
    sid = hashlib.sha256(body).hexdigest()
    return event(
        "advocate:statement:recorded", statement_id=sid, person_id=PERSON, envelope=envelope
    )


def corroborated(body: bytes, key: Ed25519PrivateKey) -> bytes:
    sid = hashlib.sha256(body).hexdigest()
    return event(
        "advocate:statement:corroborated",
        statement_id=sid,
        person_id=PERSON,
        signature=signature(key, body),
    )


def filler(n: int) -> bytes:
    return event(
        "compiler:list:eligible",
        context={"transfer": "exchange", "destination": "DE"},
        policy_sha256="cd" * 32,
        result_sha256=hashlib.sha256(b"%d" % n).hexdigest(),
    )


ALICE, BOB, CAROL = advocate(1), advocate(2), advocate(3)
S1 = payload(1)
S2 = payload(2, previous=S1)


def honest_log() -> list[bytes]:
    """20 entries; index comments are what the tamper tests below rely on."""
    return [
        event("admin:log:created", origin=ORIGIN),  # 0
        registered(ALICE),  # 1
        registered(BOB),  # 2
        approved(ALICE),  # 3
        filler(4),  # 4
        approved(BOB),  # 5
        event("advocate:person:registered", person_id=PERSON, commitment="ab" * 32),  # 6
        recorded(S1, ALICE),  # 7
        corroborated(S1, BOB),  # 8
        filler(9),  # 9
        registered(CAROL),  # 10
        filler(11),  # 11
        recorded(S2, BOB),  # 12
        filler(13),  # 13
        revoked(BOB),  # 14
        filler(15),  # 15
        filler(16),  # 16
        filler(17),  # 17
        filler(18),  # 18
        filler(19),  # 19
    ]


def checkpoint(entries: list[bytes], size: int | None = None, signer: Signer = LOG) -> str:
    size = len(entries) if size is None else size
    root = root_from_leaf_hashes([leaf_hash(e) for e in entries[:size]])
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)


def dump(directory: Path, entries: list[bytes], note: str, final_newline: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoint").write_bytes(note.encode())
    body = b"\n".join(entries) + (b"\n" if final_newline and entries else b"")
    (directory / "entries.jsonl").write_bytes(body)
    return directory


def failure(
    entries: list[bytes], note: str | None = None, trusted: str | None = None, strict: bool = False
) -> LogVerificationError:
    with pytest.raises(LogVerificationError) as caught:
        verify_log(note or checkpoint(entries), entries, LOG.verifier, trusted, strict=strict)
    return caught.value


# --- honest logs ---------------------------------------------------------------------


@pytest.mark.parametrize("final_newline", [True, False])
def test_honest_dump_verifies(tmp_path: Path, final_newline: bool) -> None:
    entries = honest_log()
    out = dump(tmp_path / "out", entries, checkpoint(entries), final_newline)
    seen: list[int] = []
    note, stream = read_dump(out)
    trusted = checkpoint(entries, 11)
    report = verify_log(note, stream, LOG.verifier, trusted, progress=seen.append)
    assert report.entries == 20 and report.checkpoint.size == 20
    assert report.trusted is not None and report.trusted.size == 11
    assert (report.keys_registered, report.keys_approved, report.keys_revoked) == (3, 2, 1)
    assert (report.statements, report.corroborations, report.signatures_verified) == (2, 1, 3)
    assert report.parsed_entries == 9  # the key and statement events, nothing else
    assert seen and seen[-1] == 20 and seen == sorted(seen)
    strict = verify_log(note, entries, LOG.verifier, trusted, strict=True)
    assert strict.parsed_entries == 20 and strict.signatures_verified == 3


def test_empty_log(tmp_path: Path) -> None:
    note, stream = read_dump(dump(tmp_path, [], checkpoint([])))
    assert verify_log(note, stream, LOG.verifier, checkpoint([])).entries == 0


# --- history rewritten, checkpoint re-signed with the same key ------------------------


TRUSTED_SIZE = 16


def resigned(entries: list[bytes]) -> tuple[list[bytes], str, str]:
    """The tampered entries, a fresh checkpoint over them, and the older honest checkpoint."""
    return entries, checkpoint(entries), checkpoint(honest_log(), TRUSTED_SIZE)


def edited(index: int, change: Callable[[bytes], bytes]) -> list[bytes]:
    entries = honest_log()
    entries[index] = change(entries[index])
    return entries


def _flip_sig(entry: bytes) -> bytes:
    obj = json.loads(entry)
    sig = bytearray(base64.b64decode(obj["signature"]["sig"]))
    sig[5] ^= 0x40
    obj["signature"]["sig"] = b64(bytes(sig))
    return rfc8785.dumps(obj)


def _swap(entries: list[bytes], i: int, j: int) -> list[bytes]:
    entries = list(entries)
    entries[i], entries[j] = entries[j], entries[i]
    return entries


def test_a_changed_byte_is_invisible_without_a_trusted_checkpoint() -> None:
    entries, note, _ = resigned(edited(9, lambda e: e.replace(b"compiler", b"c0mpiler")))
    verify_log(note, entries, LOG.verifier)  # the key holder rewrote history consistently


@pytest.mark.parametrize(
    ("name", "entries", "index", "exact", "reason"),
    [
        ("byte changed in a plain entry", edited(9, lambda e: e[:-3] + b"X" + e[-2:]),
         TRUSTED_SIZE, False, "trusted_root"),
        ("byte changed in a statement", edited(7, lambda e: e.replace(b"tures", b"turez")),
         7, True, "entry"),
        ("signature byte changed", edited(8, _flip_sig), 8, True, "signature"),
        ("plain entry deleted", [e for i, e in enumerate(honest_log()) if i != 4],
         TRUSTED_SIZE, False, "trusted_root"),
        ("approval deleted", [e for i, e in enumerate(honest_log()) if i != 5],
         7, True, "key"),  # BOB's corroboration (now index 7) comes from an unapproved key
        ("plain entries swapped", _swap(honest_log(), 9, 11), TRUSTED_SIZE, False, "trusted_root"),
        ("approval moved after the statement", _swap(honest_log(), 3, 7), 3, True, "key"),
        ("registration moved after approval", _swap(honest_log(), 1, 3), 1, True, "entry"),
        ("truncated below the trusted size", honest_log()[:12], 12, True, "rollback"),
    ],
)  # fmt: skip
def test_rewritten_history_is_located(
    name: str, entries: list[bytes], index: int, exact: bool, reason: str
) -> None:
    entries, note, trusted = resigned(entries)
    err = failure(entries, note, trusted)
    assert (err.index, err.exact, err.reason) == (index, exact, reason), name
    assert str(index) in str(err)


# --- tampering without the key --------------------------------------------------------


def test_deleted_statement_is_named_before_the_rollback() -> None:
    honest = honest_log()
    entries = [e for i, e in enumerate(honest) if i != 7]
    err = failure(entries, checkpoint(entries), checkpoint(honest))
    assert (err.index, err.exact, err.reason) == (7, True, "entry")  # corroborates nothing


def test_statement_and_event_must_name_the_same_person() -> None:
    moved = _mutate(recorded(S1, ALICE), _set(("person_id",), "someone-else"))
    err = failure([*base(), moved])
    assert (err.index, err.reason) == (3, "entry")
    entries = [*base(), approved(BOB), recorded(S1, ALICE), corroborated(S1, BOB)]
    verify_log(checkpoint(entries), entries, LOG.verifier)
    entries[-1] = _mutate(entries[-1], _set(("person_id",), "someone-else"))
    err = failure(entries)
    assert (err.index, err.reason) == (5, "entry")


def test_changed_entry_under_the_honest_checkpoint() -> None:
    entries = honest_log()
    note = checkpoint(entries)
    tampered = edited(17, lambda e: e.replace(b"compiler", b"c0mpiler"))
    err = failure(tampered, note)
    assert (err.index, err.exact, err.reason) == (20, False, "root")
    err = failure(tampered, note, checkpoint(entries, 18))
    assert (err.index, err.exact, err.reason) == (18, False, "trusted_root")


def test_missing_and_extra_entries_are_counted() -> None:
    entries = honest_log()
    note = checkpoint(entries)
    err = failure(entries[:13], note)
    assert (err.index, err.exact, err.reason) == (13, True, "count")
    err = failure([*entries, filler(20)], note)
    assert (err.index, err.exact, err.reason) == (20, True, "count")


def test_trusted_checkpoint_must_be_genuine_and_of_the_same_log() -> None:
    entries = honest_log()
    other = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x08" * 32))
    with pytest.raises(VerificationError) as caught:
        verify_log(checkpoint(entries), entries, LOG.verifier, checkpoint(entries, 5, other))
    assert not isinstance(caught.value, LogVerificationError)
    # Same key, another origin: a genuine head of some other log is not a trusted head here.
    foreign = sign_checkpoint(Checkpoint("other.test/log", 5, b"\x00" * 32), LOG)
    with pytest.raises(VerificationError) as caught:
        verify_log(checkpoint(entries), entries, LOG.verifier, foreign)
    assert not isinstance(caught.value, LogVerificationError)
    with pytest.raises(VerificationError):  # the checkpoint itself under the wrong key
        verify_log(checkpoint(entries), entries, other.verifier)
    empty_but_wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\x01" * 32), LOG)
    err = failure(entries, None, empty_but_wrong)
    assert (err.index, err.exact, err.reason) == (0, False, "trusted_root")


def test_same_size_fork_is_caught() -> None:
    entries = honest_log()
    forked = edited(19, lambda e: e.replace(b"compiler", b"c0mpiler"))
    err = failure(forked, checkpoint(forked), checkpoint(entries))
    assert (err.index, err.exact, err.reason) == (20, False, "trusted_root")


# --- keys and signatures --------------------------------------------------------------


def base() -> list[bytes]:
    return [registered(ALICE), approved(ALICE), registered(BOB)]


@pytest.mark.parametrize(
    ("tail", "index", "reason"),
    [
        ([recorded(S1, BOB)], 3, "key"),  # registered, never approved
        ([recorded(S1, CAROL)], 3, "key"),  # never registered
        ([approved(BOB), revoked(BOB), recorded(S1, BOB)], 5, "key"),
        ([recorded(S1, ALICE), corroborated(S1, BOB)], 4, "key"),
        ([approved(BOB), revoked(BOB), recorded(S1, ALICE), corroborated(S1, BOB)], 6, "key"),
        ([recorded(S1, ALICE), corroborated(S1, ALICE)], 4, "entry"),  # one key, one voice
        ([recorded(S1, ALICE, ALICE)], 3, "entry"),
        ([corroborated(S1, ALICE)], 3, "entry"),  # nothing recorded to corroborate
        ([recorded(S1, ALICE), recorded(S1, ALICE)], 4, "entry"),
        ([approved(CAROL)], 3, "entry"),  # approving an unknown key
        ([approved(ALICE)], 3, "entry"),  # approving twice
        ([revoked(BOB), approved(BOB)], 4, "entry"),  # revocation is final
        ([revoked(BOB), revoked(BOB)], 4, "entry"),
        ([registered(ALICE)], 3, "entry"),  # the same key registered again
        ([recorded(S2, ALICE)], 3, "chain"),  # names a statement that is not in the log
        ([recorded(S1, ALICE), recorded(payload(3), ALICE)], 4, "chain"),  # forgets S1
        ([recorded(S1, ALICE), recorded(S2, ALICE), recorded(payload(3, S1), ALICE)], 5, "chain"),
    ],
)
def test_key_and_signature_rules(tail: list[bytes], index: int, reason: str) -> None:
    entries = base() + tail
    err = failure(entries)
    assert (err.index, err.exact, err.reason) == (index, True, reason)
    err = failure(entries, strict=True)
    assert (err.index, err.reason) == (index, reason)


def _mutate(entry: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(entry)
    change(obj)
    return rfc8785.dumps(obj)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        for name in path[:-1]:
            obj = obj[name]
        obj[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "bad",
    [
        _mutate(recorded(S1, ALICE), _set(("statement_id",), "00" * 32)),
        _mutate(recorded(S1, ALICE), _set(("envelope", "payloadType"), "text/plain")),
        _mutate(recorded(S1, ALICE), _set(("envelope", "payload"), "not base64!")),
        _mutate(recorded(S1, ALICE), _set(("envelope", "signatures"), [])),
        _mutate(recorded(S1, ALICE), _set(("envelope", "signatures"), "x")),
        _mutate(recorded(S1, ALICE), _set(("envelope",), None)),
        _mutate(registered(CAROL), _set(("key_id",), key_id(ALICE))),
        _mutate(registered(CAROL), _set(("public_key",), b64(b"short"))),
        b'{"tag":"advocate:key:registered","tag":"admin:user:enrolled"}',
        b'["advocate:statement:recorded"]',
        b'{"tag":"advocate:statement:recorded"',
        b'{"tag":"advocate:statement:recorded","x":NaN}',
    ],
)
def test_malformed_key_and_statement_events(bad: bytes) -> None:
    err = failure([*base(), bad])
    assert (err.index, err.exact, err.reason) == (3, True, "entry")


def test_a_bad_statement_signature_is_named() -> None:
    good = json.loads(recorded(S1, ALICE))
    sig = bytearray(base64.b64decode(good["envelope"]["signatures"][0]["sig"]))
    sig[0] ^= 1
    good["envelope"]["signatures"][0]["sig"] = b64(bytes(sig))
    err = failure([*base(), filler(3), rfc8785.dumps(good)])
    assert (err.index, err.exact, err.reason) == (4, True, "signature")


# --- the byte filter cannot be fooled -------------------------------------------------


TAG = b'"advocate:statement:recorded"'


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (TAG, b'"advocate:statement:recorde\\u0064"'),
        (TAG, b'"\\u0061dvocate:statement:recorded"'),
        (TAG, b'"advocate\\u003astatement:recorded"'),
        (b'"tag":', b'"t\\u0061g":'),
        (b'"tag":"', b'"tag":\n"'),
        (b'"tag":"', b'"tag" : "'),
    ],
)
def test_an_escaped_statement_is_still_checked(old: bytes, new: bytes) -> None:
    hidden = recorded(S1, BOB).replace(old, new)  # BOB is not approved in base()
    assert json.loads(hidden)["tag"] == "advocate:statement:recorded"
    entries = [*base(), filler(3), hidden]
    err = failure(entries)
    assert (err.index, err.exact, err.reason) == (4, True, "key")


def test_newlines_inside_earlier_entries_do_not_shift_the_index() -> None:
    spaced = [filler(i).replace(b",", b",\n") for i in range(3, 40)]
    entries = [*base(), *spaced, recorded(S1, ALICE), filler(41), recorded(S2, BOB)]
    err = failure(entries)
    assert (err.index, err.exact, err.reason) == (3 + len(spaced) + 2, True, "key")


def test_entries_that_are_not_utf8_are_parsed_and_refused() -> None:
    overlong = recorded(S1, BOB).replace(b'"advocate:', b'"\xc1\xa1dvocate:')
    err = failure([*base(), overlong])
    assert (err.index, err.exact, err.reason) == (3, True, "entry")


def test_relevant_words_elsewhere_do_not_trip_the_verifier() -> None:
    decoy = event("compiler:list:vetted", context={"note": "advocate:statement:recorded"})
    report = verify_log(checkpoint([*base(), decoy]), [*base(), decoy], LOG.verifier)
    assert report.parsed_entries == 4


def test_garbage_outside_key_and_statement_events_needs_strict_mode() -> None:
    entries = [*base(), b"not json at all", filler(4), b'{"tag":"no-colons"}']
    verify_log(checkpoint(entries), entries, LOG.verifier)
    err = failure(entries, strict=True)
    assert (err.index, err.exact, err.reason) == (3, True, "entry")
    entries[3] = b'{"tag":"a:b:c"}'
    err = failure(entries, strict=True)
    assert (err.index, err.reason) == (5, "entry")
    near_miss = _mutate(registered(CAROL), _set(("tag",), "advocate:key"))
    entries = [*base(), near_miss]
    verify_log(checkpoint(entries), entries, LOG.verifier)  # not a key event at all
    assert failure(entries, strict=True).index == 3


# --- streaming over chunk boundaries ----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(data=st.data(), size=st.integers(0, 3100))
def test_root_streaming_matches_across_chunks(data: st.DataObject, size: int) -> None:
    entries = [b'{"n":%d,"tag":"t:e:st"}' % i for i in range(size)]
    trusted_size = data.draw(st.integers(0, size))
    verify_log(checkpoint(entries), entries, LOG.verifier, checkpoint(entries, trusted_size))
    if trusted_size:
        i = data.draw(st.integers(0, trusted_size - 1))
        tampered = list(entries)
        tampered[i] += b" "
        err = failure(tampered, checkpoint(tampered), checkpoint(entries, trusted_size))
        assert (err.index, err.exact, err.reason) == (trusted_size, False, "trusted_root")


def test_statement_failure_inside_a_later_chunk_is_named() -> None:
    entries = [*base(), *(filler(i) for i in range(3, 2600)), recorded(S1, BOB)]
    err = failure(entries, None, checkpoint(entries, 1500))
    assert (err.index, err.reason) == (2600, "key")


# --- reading dumps --------------------------------------------------------------------


def test_read_dump_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_dump(tmp_path)
    (tmp_path / "checkpoint").write_bytes(b"\xff\xfe")
    (tmp_path / "entries.jsonl").write_bytes(b"")
    with pytest.raises(FormatError):
        read_dump(tmp_path)


def test_read_dump_keeps_bytes_exact(tmp_path: Path) -> None:
    entries = [b"a", b"", b"c\r", b"x" * 3_000_000]
    note, stream = read_dump(dump(tmp_path, entries, "cp\r\n"))
    assert note == "cp\r\n"
    assert list(stream) == entries
