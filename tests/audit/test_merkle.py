"""Merkle hashing and proofs: conformance vectors, and properties against a naive RFC 6962."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    EMPTY_ROOT,
    FormatError,
    InMemoryTree,
    NodeMap,
    NodeReader,
    OutOfRangeError,
    VerificationError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_completed_by_append,
    nodes_needed_for_append,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
MERKLE = VECTORS / "merkle"
ABSENT = f"conformance vectors not found at {MERKLE} (expected ../shared/vectors beside the repo)"


def _vector_files() -> list[Any]:
    if not MERKLE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id="vectors-absent")]
    files = sorted(MERKLE.rglob("*.json"))
    return [pytest.param(f, id=str(f.relative_to(MERKLE))) for f in files]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_vector_count() -> None:
    if not MERKLE.is_dir():
        pytest.skip(ABSENT)
    assert len(list(MERKLE.rglob("*.json"))) == 196


@pytest.mark.parametrize("path", _vector_files())
def test_merkle_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(h) for h in case["proof"] or []]
    try:
        if "leafIdx" in case:
            verify_inclusion(
                _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"])
            )
        else:
            verify_consistency(
                case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
            )
    except VerificationError:
        assert case["wantErr"], case["desc"]
    else:
        assert not case["wantErr"], case["desc"]


README_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                 "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
README_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(9))
def test_readme_roots(size: int) -> None:
    leaves = [bytes.fromhex(h) for h in README_LEAVES[:size]]
    hashes = [leaf_hash(x) for x in leaves]
    tree = InMemoryTree()
    for x in leaves:
        tree.append(x)
    assert root_from_leaf_hashes(hashes).hex() == README_ROOTS[size]
    assert tree.root().hex() == README_ROOTS[size]


def test_hash_prefixes() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


# --- a deliberately naive RFC 6962 / 9162 reference -----------------------------------


class Naive:
    """Textbook recursive definitions, memoised on ranges so tests stay fast."""

    def __init__(self, hashes: Sequence[bytes]) -> None:
        self.hashes = tuple(hashes)
        self.mth: Callable[[int, int], bytes] = functools.lru_cache(maxsize=None)(self._mth)

    @staticmethod
    def split(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.hashes[begin]
        k = self.split(n)
        return node_hash(self.mth(begin, begin + k), self.mth(begin + k, end))

    def path(self, m: int, begin: int, end: int) -> list[bytes]:
        n = end - begin
        if n == 1:
            return []
        k = self.split(n)
        if m < k:
            return [*self.path(m, begin, begin + k), self.mth(begin + k, end)]
        return [*self.path(m - k, begin + k, end), self.mth(begin, begin + k)]

    def subproof(self, m: int, begin: int, end: int, whole: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if whole else [self.mth(begin, end)]
        k = self.split(n)
        if m <= k:
            return [*self.subproof(m, begin, begin + k, whole), self.mth(begin + k, end)]
        return [*self.subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]


def shape(m: int, n: int) -> list[bool]:
    """For each proof hash, bottom-up: is the sibling on the left?  Defines the computation."""
    if n == 1:
        return []
    k = Naive.split(n)
    if m < k:
        return [*shape(m, k), False]
    return [*shape(m - k, n - k), True]


def build(count: int, salt: bytes) -> tuple[InMemoryTree, list[bytes]]:
    tree = InMemoryTree()
    for i in range(count):
        tree.append(salt + b"leaf %d" % i)
    return tree, [tree.leaf_hash(i) for i in range(count)]


class Recording:
    """A NodeReader that records every node asked for."""

    def __init__(self, inner: NodeReader) -> None:
        self.inner = inner
        self.read: set[tuple[int, int]] = set()

    def node(self, level: int, index: int) -> bytes:
        self.read.add((level, index))
        return self.inner.node(level, index)


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


salts = st.binary(min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), salt=salts)
def test_inclusion_proofs_match_naive_for_every_index(size: int, salt: bytes) -> None:
    tree, hashes = build(size, salt)
    naive = Naive(hashes)
    root = naive.mth(0, size)
    assert tree.root() == root
    for index in range(size):
        reader = Recording(tree)
        proof = inclusion_proof(index, size, reader)
        assert proof == naive.path(index, 0, size)
        assert reader.read == set(nodes_needed_for_inclusion(index, size))
        assert len(reader.read) <= 2 * size.bit_length()
        verify_inclusion(hashes[index], index, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(1, 300), salt=salts)
def test_tampered_inclusion_proofs_fail(data: st.DataObject, size: int, salt: bytes) -> None:
    tree, hashes = build(size, salt)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    root = tree.root()
    leaf = hashes[index]
    bit = data.draw(st.integers(0, 255))
    attempts: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (flip(leaf, bit), index, size, proof, root),
        (leaf, index, size, proof, flip(root, bit)),
    ]
    for i in range(len(proof)):
        bad = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        attempts.append((leaf, index, size, bad, root))
    if proof:
        attempts.append((leaf, index, size, proof[:-1], root))
    attempts.append((leaf, index, size, [*proof, root], root))
    other = data.draw(st.integers(0, size + 4))
    if other != index:
        attempts.append((leaf, other, size, proof, root))
    for leaf_, index_, size_, proof_, root_ in attempts:
        with pytest.raises(VerificationError):
            verify_inclusion(leaf_, index_, size_, proof_, root_)
    # A proof does not bind the tree size: it also verifies for another size whose path has
    # the same shape, and must fail for every other size.
    other_size = data.draw(st.integers(0, 2 * size + 2))
    if other_size != size:
        same = index < other_size and shape(index, other_size) == shape(index, size)
        if same:
            verify_inclusion(leaf, index, other_size, proof, root)
        else:
            with pytest.raises(VerificationError):
                verify_inclusion(leaf, index, other_size, proof, root)


def test_consistency_proofs_for_every_pair_up_to_64() -> None:
    tree, hashes = build(64, b"pairs")
    naive = Naive(hashes)
    for second in range(1, 65):
        second_root = naive.mth(0, second)
        for first in range(1, second + 1):
            first_root = naive.mth(0, first)
            reader = Recording(tree)
            proof = consistency_proof(first, second, reader)
            assert proof == (naive.subproof(first, 0, second, True) if first < second else [])
            assert reader.read == set(nodes_needed_for_consistency(first, second))
            verify_consistency(first, second, proof, first_root, second_root)
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i], 7 * i + first), *proof[i + 1 :]]
                with pytest.raises(VerificationError):
                    verify_consistency(first, second, bad, first_root, second_root)
            tampered_roots = [
                (flip(first_root, second), second_root),
                (first_root, flip(second_root, first)),
            ]
            for r1, r2 in tampered_roots:
                with pytest.raises(VerificationError):
                    verify_consistency(first, second, proof, r1, r2)
            if proof:
                for bad in (proof[:-1], [*proof, proof[0]], [proof[0], *proof]):
                    with pytest.raises(VerificationError):
                        verify_consistency(first, second, bad, first_root, second_root)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), salt=salts)
def test_consistency_random_bit_flips_fail(data: st.DataObject, salt: bytes) -> None:
    second = data.draw(st.integers(2, 64))
    first = data.draw(st.integers(1, second - 1))
    tree, _ = build(second, salt)
    proof = tree.consistency_proof(first, second)
    which = data.draw(st.integers(0, len(proof) + 1))
    bit = data.draw(st.integers(0, 255))
    r1, r2 = tree.root(first), tree.root(second)
    if which < len(proof):
        proof = [*proof[:which], flip(proof[which], bit), *proof[which + 1 :]]
    elif which == len(proof):
        r1 = flip(r1, bit)
    else:
        r2 = flip(r2, bit)
    with pytest.raises(VerificationError):
        verify_consistency(first, second, proof, r1, r2)


@settings(max_examples=100, deadline=None)
@given(leaves=st.lists(st.binary(max_size=40), max_size=300))
def test_root_at_after_appends_equals_root_from_leaf_hashes(leaves: list[bytes]) -> None:
    nodes = NodeMap()
    hashes: list[bytes] = []
    for size, data in enumerate(leaves):
        h = leaf_hash(data)
        reader = Recording(nodes)
        created = nodes_completed_by_append(size, h, reader)
        assert reader.read == set(nodes_needed_for_append(size))
        assert len(created) == 1 + len(nodes_needed_for_append(size))
        for level, index, value in created:
            nodes[(level, index)] = value
        hashes.append(h)
    naive = Naive(hashes)
    for size in range(len(hashes) + 1):
        reader = Recording(nodes)
        assert root_at(size, reader) == root_from_leaf_hashes(hashes[:size]) == naive.mth(0, size)
        assert reader.read == set(nodes_needed_for_root(size))
    # Every complete perfect subtree is stored once: 2n - popcount(n) nodes, nothing else.
    assert len(nodes) == 2 * len(hashes) - bin(len(hashes)).count("1")


def test_edge_rules() -> None:
    tree, hashes = build(5, b"edge")
    root = tree.root()
    with pytest.raises(VerificationError):
        verify_inclusion(hashes[0], 5, 5, [], root)  # index == size
    with pytest.raises(VerificationError):
        verify_inclusion(hashes[0], -1, 5, tree.inclusion_proof(0), root)
    with pytest.raises(VerificationError):
        verify_inclusion(hashes[0], 0, 0, [], EMPTY_ROOT)  # nothing is in the empty tree
    with pytest.raises(VerificationError):
        verify_consistency(5, 4, [], root, root)  # first > second
    with pytest.raises(VerificationError):
        verify_consistency(0, 5, [], EMPTY_ROOT, root)  # nothing to prove from the empty tree
    with pytest.raises(VerificationError):
        verify_consistency(5, 5, [root], root, root)  # equal sizes need an empty proof
    verify_consistency(5, 5, [], root, root)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(VerificationError):
        verify_consistency(0, 0, [], b"x" * 32, b"x" * 32)  # the empty tree has one root
    with pytest.raises(VerificationError):  # a 31-byte proof element is never valid
        verify_inclusion(hashes[4], 4, 5, [tree.inclusion_proof(4)[0][:31]], root)


def test_requests_out_of_range() -> None:
    tree, _ = build(4, b"r")
    for call in (
        lambda: inclusion_proof(4, 4, tree),
        lambda: inclusion_proof(-1, 4, tree),
        lambda: consistency_proof(3, 2, tree),
        lambda: consistency_proof(0, 2, tree),
        lambda: nodes_needed_for_root(-1),
        lambda: tree.root(5),
    ):
        with pytest.raises(OutOfRangeError):
            call()
    assert consistency_proof(0, 0, tree) == [] == consistency_proof(4, 4, tree)
    assert root_at(0, tree) == EMPTY_ROOT
    with pytest.raises(FormatError):
        nodes_completed_by_append(4, b"short", tree)
