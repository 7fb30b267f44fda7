"""Checkpoints (c2sp.org/tlog-checkpoint) and receipts (c2sp.org/tlog-proof)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    MAX_TREE_SIZE,
    Checkpoint,
    FormatError,
    InMemoryTree,
    Receipt,
    Signer,
    VerificationError,
    format_receipt,
    open_checkpoint,
    parse_receipt,
    sign_checkpoint,
    sign_note,
    verify_receipt,
)

ORIGIN = "consent.example/log"
ROOT = bytes(range(32))


def signer(seed: int = 1, name: str = ORIGIN) -> Signer:
    return Signer(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def test_spec_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.from_text(text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.to_text() == text


lines = st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    origin=lines,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=3),
)
def test_checkpoint_text_round_trip(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    text = cp.to_text()
    assert text.endswith("\n") and text.count("\n") == 3 + len(extensions)
    assert Checkpoint.from_text(text) == cp


@pytest.mark.parametrize(
    "text",
    [
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
        "o\n1\n",
        "\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # empty origin
        "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # leading zero
        "o\n+1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n1_0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n\u0661\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # Arabic-Indic one
        "o\n 1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",  # non-canonical base64
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",  # no padding
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",  # 31 bytes
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",  # empty extension line
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next\x01\n",
        "o\n" + "9" * 5000 + "\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    ],
)
def test_checkpoint_parser_is_strict(text: str) -> None:
    with pytest.raises(FormatError):
        Checkpoint.from_text(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", MAX_TREE_SIZE + 1, ROOT, ()),
        ("o", 1, ROOT[:31], ()),
        ("o", 1, ROOT, ("",)),
    ],
)
def test_checkpoint_fields_are_validated(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(FormatError):
        Checkpoint(origin, size, root, extensions)


def test_sign_and_open_checkpoint() -> None:
    log = signer()
    cp = Checkpoint(ORIGIN, 42, ROOT, ("ext",))
    note = sign_checkpoint(cp, log)
    assert note.startswith(cp.to_text() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(note, log.verifier) == cp
    assert open_checkpoint(note, log.verifier, origin=ORIGIN) == cp
    with pytest.raises(VerificationError):
        open_checkpoint(note, log.verifier, origin="other.example/log")
    with pytest.raises(VerificationError):
        open_checkpoint(note, signer(2).verifier)
    with pytest.raises(VerificationError):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), log.verifier)
    # A witness cosignature (a key we do not know) does not get in the way.
    witnessed = sign_note(cp.to_text(), [log, signer(3, "witness.example")])
    assert open_checkpoint(witnessed, log.verifier) == cp


def test_open_checkpoint_verifies_before_parsing() -> None:
    log = signer()
    note = sign_note("not a checkpoint\n", [log])
    with pytest.raises(FormatError):
        open_checkpoint(note, log.verifier)
    with pytest.raises(VerificationError):  # an unsigned bad body is a signature failure first
        open_checkpoint(note, signer(2).verifier)


# --- receipts -------------------------------------------------------------------------


def make_log(count: int) -> tuple[InMemoryTree, list[bytes], Signer, str]:
    tree = InMemoryTree()
    leaves = [b'{"n":%d,"tag":"test:leaf:added"}' % i for i in range(count)]
    for leaf in leaves:
        tree.append(leaf)
    log = signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, count, tree.root()), log)
    return tree, leaves, log, note


def test_receipt_layout_matches_the_spec() -> None:
    tree, _leaves, _log, note = make_log(13)
    text = format_receipt(5, tree.inclusion_proof(5), note, extra=b"context")
    lines = text.split("\n")
    proof = tree.inclusion_proof(5)
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == "index 5"
    assert lines[3 : 3 + len(proof)] == [base64.b64encode(h).decode() for h in proof]
    assert lines[3 + len(proof)] == ""
    assert text.split("\n\n", 1)[1] == note
    receipt = parse_receipt(text)
    assert receipt == Receipt(5, tuple(proof), note, b"context")
    assert receipt.to_text() == text


def test_every_leaf_receipt_verifies_and_tampering_fails() -> None:
    tree, leaves, log, note = make_log(13)
    for index, leaf in enumerate(leaves):
        proof = tree.inclusion_proof(index)
        text = format_receipt(index, proof, note)
        assert "extra" not in text
        cp = verify_receipt(text, leaf, log.verifier, origin=ORIGIN)
        assert (cp.size, cp.root_hash) == (13, tree.root())
        with pytest.raises(VerificationError):
            verify_receipt(text, leaf + b" ", log.verifier)
        with pytest.raises(VerificationError):
            verify_receipt(text, leaf, signer(2).verifier)
        with pytest.raises(VerificationError):
            verify_receipt(text, leaf, log.verifier, origin="elsewhere")
        other = (index + 1) % 13
        with pytest.raises(VerificationError):
            verify_receipt(format_receipt(other, proof, note), leaf, log.verifier)
        for i in range(len(proof)):
            bad = [*proof[:i], bytes([proof[i][0] ^ 1]) + proof[i][1:], *proof[i + 1 :]]
            with pytest.raises(VerificationError):
                verify_receipt(format_receipt(index, bad, note), leaf, log.verifier)


def test_extra_data_is_carried_but_not_trusted() -> None:
    tree, leaves, log, note = make_log(4)
    text = format_receipt(2, tree.inclusion_proof(2), note, extra=b"anything")
    swapped = text.replace(
        base64.b64encode(b"anything").decode(), base64.b64encode(b"else").decode()
    )
    assert verify_receipt(swapped, leaves[2], log.verifier).size == 4
    assert parse_receipt(format_receipt(0, [], note, extra=b"")).extra == b""


def test_single_leaf_receipt_has_no_hashes() -> None:
    _tree, leaves, log, note = make_log(1)
    text = format_receipt(0, [], note)
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 0\n\n")
    verify_receipt(text, leaves[0], log.verifier)


def test_spec_receipt_example_parses() -> None:
    example = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
        "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
        "\n"
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"
        "\u2014 example.com/fancylog hI2DJw[...]1roloI=\n"
    )
    receipt = parse_receipt(example)
    assert receipt.index == 73894 and len(receipt.proof) == 5
    assert receipt.checkpoint_note.startswith("example.com/fancylog\n109482\n")
    with pytest.raises(FormatError):  # its signatures are elided in the spec
        verify_receipt(example, b"", signer().verifier)


@pytest.mark.parametrize(
    "text",
    [
        "c2sp.org/tlog-proof@v2\nindex 0\n\nnote\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nnote\n",
        "c2sp.org/tlog-proof@v1\nindex -1\n\nnote\n",
        "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nnote\n",
        "c2sp.org/tlog-proof@v1\nindex 0\n",  # no checkpoint
        "c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\nnote\n",  # 3-byte hash
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\nnote\n",
        "c2sp.org/tlog-proof@v1\nindex 0\n\nnote without newline",
        "c2sp.org/tlog-proof@v1\n"
        + "index 0\n"
        + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n" * 65
        + "\nnote\n",
    ],
)
def test_receipt_parser_is_strict(text: str) -> None:
    with pytest.raises(FormatError):
        parse_receipt(text)
