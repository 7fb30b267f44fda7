"""The database side of the transparency log.

Kept apart from the pure modules: ``import audit`` never imports this one. The caller owns
the transaction and must hold the log lock (``consent._db.Database.write``) while it appends:
that lock, not this module, is what keeps concurrent writers from forking the tree.

Per append: one entry row, the level-0 node and each perfect subtree it completes (one on
average, at most log2 n), and the head row: O(log n) reads and writes, never a rehash.
Proofs and roots read only the O(log n) perfect-subtree nodes they need, in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import BigInteger, Column, LargeBinary, String, and_, insert, or_, select, update
from sqlmodel import Field, Session, SQLModel, col

from audit._checkpoint import Checkpoint, sign_checkpoint
from audit._errors import FormatError
from audit._merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_completed_by_append,
    nodes_needed_for_append,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    root_at,
)
from audit._note import Signer
from audit._receipt import format_receipt

__all__ = ["LogEntry", "LogHead", "LogNode", "LogStore"]


class LogHead(SQLModel, table=True):
    """One row: the log's size. Locking it serialises appends across processes and hosts."""

    __tablename__ = "log_head"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    size: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tag: str = Field(sa_column=Column(String(64), nullable=False, index=True))


class LogNode(SQLModel, table=True):
    """Hash of the perfect subtree at (level, idx): leaves [idx*2**level, (idx+1)*2**level)."""

    __tablename__ = "log_node"
    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class _PrefetchedNodes:
    """A NodeReader over nodes fetched in one query; a missing node means a broken store."""

    def __init__(self, session: Session, wanted: Iterable[tuple[int, int]]) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._session = session
        self.fetch(wanted)

    def fetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        keys = [k for k in set(wanted) if k not in self._nodes]
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            condition = or_(*(and_(col(LogNode.level) == lv, col(LogNode.idx) == ix)
                              for lv, ix in chunk))
            for row in self._session.execute(
                select(col(LogNode.level), col(LogNode.idx), col(LogNode.hash)).where(condition)
            ):
                self._nodes[(row[0], row[1])] = bytes(row[2])

    def remember(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            self._nodes[(level, index)] = value

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._nodes:
            self.fetch([key])
        if key not in self._nodes:
            raise FormatError("the stored log is missing a tree node")
        return self._nodes[key]


class LogStore:
    """Appends, roots, proofs, checkpoints and receipts over the log tables."""

    def __init__(self, signer: Signer, origin: str) -> None:
        self._signer = signer
        self.origin = origin

    @staticmethod
    def initialise(session: Session) -> None:
        if session.get(LogHead, 1) is None:
            session.add(LogHead(id=1, size=0))
            session.flush()

    @staticmethod
    def size(session: Session) -> int:
        query = select(col(LogHead.size)).where(col(LogHead.id) == 1)
        head = session.execute(query).scalar_one_or_none()
        return int(head or 0)

    def append(self, session: Session, leaf: bytes, tag: str) -> int:
        """Append one leaf; the caller holds the log lock. Returns the leaf's index."""
        return self.append_many(session, [(leaf, tag)])[0]

    def append_many(self, session: Session, items: Sequence[tuple[bytes, str]]) -> list[int]:
        """Append leaves in order, in bulk; the caller holds the log lock.

        Nodes completed within the batch are kept in memory for the rest of it, so a batch
        of k leaves costs O(k + log n) reads and one round of inserts.
        """
        start = self.size(session)
        reader = _PrefetchedNodes(session, nodes_needed_for_append(start))
        entries: list[dict[str, object]] = []
        nodes: list[dict[str, object]] = []
        for offset, (leaf, tag) in enumerate(items):
            completed = nodes_completed_by_append(start + offset, leaf_hash(leaf), reader)
            reader.remember(completed)
            entries.append({"idx": start + offset, "leaf": leaf, "tag": tag})
            nodes.extend({"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed)
        if entries:
            session.execute(insert(LogEntry), entries)
            session.execute(insert(LogNode), nodes)
            session.execute(update(LogHead).where(col(LogHead.id) == 1)
                            .values(size=start + len(entries)))
        return list(range(start, start + len(entries)))

    def root(self, session: Session, size: int) -> bytes:
        return root_at(size, _PrefetchedNodes(session, nodes_needed_for_root(size)))

    def checkpoint(self, session: Session, size: int | None = None) -> str:
        """A signed C2SP checkpoint note; Ed25519 is deterministic, so it is reproducible."""
        size = self.size(session) if size is None else size
        cp = Checkpoint(origin=self.origin, size=size, root_hash=self.root(session, size),
                        extensions=())
        return sign_checkpoint(cp, self._signer)

    def inclusion_proof(self, session: Session, index: int, size: int) -> list[bytes]:
        reader = _PrefetchedNodes(session, nodes_needed_for_inclusion(index, size))
        return inclusion_proof(index, size, reader)

    def consistency_proof(self, session: Session, first: int, second: int) -> list[bytes]:
        reader = _PrefetchedNodes(session, nodes_needed_for_consistency(first, second))
        return consistency_proof(first, second, reader)

    def receipt(self, session: Session, index: int) -> str:
        """A C2SP tlog-proof for the leaf at ``index`` against the current checkpoint.

        The leaf's own bytes ride in the ``extra`` line, so the holder can check the receipt
        offline with the log key alone; the inclusion proof is what authenticates them.
        """
        size = self.size(session)
        (leaf,) = self.entries(session, index, index + 1)
        return format_receipt(index, self.inclusion_proof(session, index, size),
                              self.checkpoint(session, size), extra=leaf)

    @staticmethod
    def entries(session: Session, start: int, end: int) -> Sequence[bytes]:
        rows = session.execute(
            select(col(LogEntry.leaf)).where(col(LogEntry.idx) >= start, col(LogEntry.idx) < end)
            .order_by(col(LogEntry.idx))
        )
        return [bytes(r[0]) for r in rows]

