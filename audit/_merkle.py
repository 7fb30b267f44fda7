"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

The database keeps only *perfect* subtree hashes: node ``(level, index)`` is the hash of
the leaves ``[index * 2**level, (index + 1) * 2**level)``.  Perfect nodes never change
once complete, so an append writes at most ``log2 n + 1`` rows and rewrites none.  Every
other hash a root or proof needs (the "ephemeral" right edge of an unbalanced tree) is
folded on the fly from the perfect decomposition of its range, which is why a root or a
proof costs O(log n) node reads.

The ``nodes_needed_for_*`` functions list exactly the perfect nodes the matching
computation will read.  A database reader fetches them in one query, wraps the rows in a
:class:`NodeMap`, and passes that to :func:`root_at` / :func:`inclusion_proof` /
:func:`consistency_proof` / :func:`nodes_completed_by_append`; no other node is asked for.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 with the edge rules of
transparency-dev/merkle (``proof/verify.go``).  One deliberate difference: a consistency
"proof" between two empty trees is accepted only if both roots are the empty-tree hash,
since the empty tree has exactly one root (the shared vector file
``consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json`` requires this;
current transparency-dev accepts any two equal byte strings there).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

from ._errors import FormatError, OutOfRangeError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "InMemoryTree",
    "NodeMap",
    "NodeReader",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_completed_by_append",
    "nodes_needed_for_append",
    "nodes_needed_for_consistency",
    "nodes_needed_for_inclusion",
    "nodes_needed_for_root",
    "root_at",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256

NodeId = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash; the 0x00 prefix keeps leaves and interior nodes apart."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash (0x01 prefix)."""
    return _sha256(b"\x01" + left + right).digest()


class NodeReader(Protocol):
    """Anything that can return the hash of a complete perfect subtree.

    ``node(level, index)`` covers leaves ``[index << level, (index + 1) << level)``;
    level 0 nodes are the leaf hashes.  Only nodes that are complete in the tree being
    read are ever requested.
    """

    def node(self, level: int, index: int) -> bytes: ...


class NodeMap(dict[NodeId, bytes]):
    """A NodeReader over prefetched rows, so a database can read all nodes in one query."""

    def node(self, level: int, index: int) -> bytes:
        return self[(level, index)]


def _perfect_nodes(begin: int, end: int) -> list[NodeId]:
    """Perfect nodes covering ``[begin, end)``, left to right, largest first.

    Valid for every range the RFC 6962 recursion produces: such a range starts at a
    multiple of the largest power of two not above its length, so greedily taking the
    set bits of ``end - begin`` from the top yields aligned perfect subtrees.
    """
    nodes: list[NodeId] = []
    pos = begin
    remaining = end - begin
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, pos >> level))
        pos += 1 << level
        remaining -= 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its perfect decomposition (RFC 6962 splits left-heavy)."""
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (n > 1), the RFC 6962 split point."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PATH(index, D[0:size]), bottom-up (RFC 9162 2.1.3.1)."""
    path: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
    path.reverse()
    return path


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PROOF(first, D[0:second]) (RFC 9162 2.1.4.1)."""
    path: list[tuple[int, int]] = []
    begin, end = 0, second
    whole = True  # the SUBPROOF flag b: still on the path of the old tree's own root
    while first != end:
        k = _split(end - begin)
        if first <= begin + k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
            whole = False
    if not whole:
        path.append((begin, end))
    path.reverse()
    return path


def _check_size(size: int) -> None:
    if size < 0:
        raise OutOfRangeError("tree size must not be negative")


def _unique(ranges: list[tuple[int, int]]) -> list[NodeId]:
    out: dict[NodeId, None] = {}
    for begin, end in ranges:
        for node in _perfect_nodes(begin, end):
            out[node] = None
    return list(out)


def nodes_needed_for_root(size: int) -> list[NodeId]:
    """The nodes :func:`root_at` reads for ``size`` (empty for the empty tree)."""
    _check_size(size)
    return _perfect_nodes(0, size)


def nodes_needed_for_inclusion(index: int, size: int) -> list[NodeId]:
    """The nodes :func:`inclusion_proof` reads."""
    _check_inclusion_request(index, size)
    return _unique(_inclusion_ranges(index, size))


def nodes_needed_for_consistency(first: int, second: int) -> list[NodeId]:
    """The nodes :func:`consistency_proof` reads."""
    _check_consistency_request(first, second)
    if first == second:
        return []
    return _unique(_consistency_ranges(first, second))


def nodes_needed_for_append(size: int) -> list[NodeId]:
    """The nodes :func:`nodes_completed_by_append` reads when appending at ``size``."""
    _check_size(size)
    needed: list[NodeId] = []
    level, index = 0, size
    while index & 1:
        needed.append((level, index - 1))
        level, index = level + 1, index >> 1
    return needed


def nodes_completed_by_append(
    size: int, leaf: bytes, reader: NodeReader
) -> list[tuple[int, int, bytes]]:
    """``(level, index, hash)`` of the new leaf node and every perfect subtree it completes.

    Appending leaf number ``size`` completes one node per trailing one-bit of ``size``,
    each the parent of a stored left sibling and the node just made; so the work is
    O(log n) and reads only :func:`nodes_needed_for_append`.
    """
    _check_size(size)
    if len(leaf) != HASH_SIZE:
        raise FormatError("a leaf hash is 32 bytes")
    created = [(0, size, leaf)]
    level, index, current = 0, size, leaf
    while index & 1:
        current = node_hash(reader.node(level, index - 1), current)
        level, index = level + 1, index >> 1
        created.append((level, index, current))
    return created


def root_at(size: int, reader: NodeReader) -> bytes:
    """Root of the first ``size`` leaves, from at most log2(size)+1 perfect nodes."""
    nodes = nodes_needed_for_root(size)
    if not nodes:
        return EMPTY_ROOT
    return _fold([reader.node(level, index) for level, index in nodes])


def _check_inclusion_request(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise OutOfRangeError("inclusion proofs need 0 <= index < size")


def _check_consistency_request(first: int, second: int) -> None:
    if not 0 <= first <= second:
        raise OutOfRangeError("consistency proofs need 0 <= first <= second")
    if first == 0 and second != 0:
        # RFC 9162 defines no proof from the empty tree, and verifiers reject one.
        raise OutOfRangeError("there is no consistency proof from the empty tree")


def _hashes_for(ranges: list[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    return [
        _fold([reader.node(level, index) for level, index in _perfect_nodes(begin, end)])
        for begin, end in ranges
    ]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 inclusion proof for leaf ``index`` in the tree of ``size`` leaves."""
    _check_inclusion_request(index, size)
    return _hashes_for(_inclusion_ranges(index, size), reader)


def consistency_proof(first: int, second: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 consistency proof from tree size ``first`` to ``second`` (empty if equal)."""
    _check_consistency_request(first, second)
    if first == second:
        return []
    return _hashes_for(_consistency_ranges(first, second), reader)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Root of a tree given all its leaf hashes, in O(log n) working memory."""
    stack: list[bytes] = []
    for count, h in enumerate(hashes):
        while count & 1:
            h = node_hash(stack.pop(), h)
            count >>= 1
        stack.append(h)
    return _fold(stack) if stack else EMPTY_ROOT


class InMemoryTree:
    """A whole tree in memory: for tests, tools and small offline checks.

    It stores nodes exactly as the database does (through
    :func:`nodes_completed_by_append`), so tests of this class exercise the same code
    paths as production.
    """

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        self._nodes: dict[NodeId, bytes] = {}

    @property
    def size(self) -> int:
        return len(self._leaves)

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            return self._leaves[index]
        return self._nodes[(level, index)]

    def append(self, data: bytes) -> int:
        """Append leaf data; returns its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, leaf: bytes) -> int:
        index = len(self._leaves)
        for level, node_index, h in nodes_completed_by_append(index, leaf, self):
            if level == 0:
                self._leaves.append(h)
            else:
                self._nodes[(level, node_index)] = h
        return index

    def leaf_hash(self, index: int) -> bytes:
        return self._leaves[index]

    def root(self, size: int | None = None) -> bytes:
        return root_at(self._size_or_current(size), self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size_or_current(size), self)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self._size_or_current(second), self)

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise OutOfRangeError("size beyond the tree")
        return size


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2, in the transparency-dev formulation) ---


def _fail() -> VerificationError:
    return VerificationError("Merkle proof does not verify")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split a proof for ``index`` into the part below and above where it meets the edge."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _well_formed(proof: Sequence[bytes]) -> bool:
    return all(len(h) == HASH_SIZE for h in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise VerificationError unless ``proof`` shows leaf ``index`` under ``root``."""
    if not 0 <= index < size or len(leaf_hash) != HASH_SIZE or not _well_formed(proof):
        raise _fail()
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise _fail()
    computed = _chain_inner(leaf_hash, proof[:inner], index)
    computed = _chain_border_right(computed, proof[inner:])
    if not _same(computed, root):
        raise _fail()


def verify_consistency(
    first: int,
    second: int,
    proof: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> None:
    """Raise VerificationError unless tree ``second`` extends tree ``first``."""
    if first < 0 or second < first:
        raise _fail()
    if first == second:
        if proof or not _same(first_root, second_root):
            raise _fail()
        if first == 0 and not _same(first_root, EMPTY_ROOT):
            raise _fail()
        return
    if first == 0 or not proof or not _well_formed(proof):
        raise _fail()

    inner, border = _decompose(first - 1, second)
    shift = (first & -first).bit_length() - 1
    inner -= shift
    # Unless the old tree is itself a perfect subtree, the proof starts with the hash of
    # the largest perfect subtree on its right edge, which seeds both computations.
    if first == 1 << shift:
        seed, rest = first_root, proof
    else:
        seed, rest = proof[0], proof[1:]
    if len(rest) != inner + border:
        raise _fail()
    mask = (first - 1) >> shift
    old = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if not _same(old, first_root):
        raise _fail()
    new = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if not _same(new, second_root):
        raise _fail()
