"""Receipts in the C2SP transparency-log proof format (c2sp.org/tlog-proof@v1).

::

    c2sp.org/tlog-proof@v1
    extra <base64>              optional, unauthenticated application data
    index <decimal>
    <base64 hash>               zero or more: the RFC 9162 inclusion proof, leaf side first
    <empty line>
    <signed checkpoint note, verbatim>

A receipt lets whoever recorded a statement prove later, offline and with only the log's
public key, that the log committed to it.  The ``extra`` line is not covered by any
signature, so nothing in it may be trusted; verification ignores it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._checkpoint import MAX_TREE_SIZE, Checkpoint, open_checkpoint
from ._errors import FormatError
from ._merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ._note import MAX_NOTE_SIZE, Verifier, _b64decode

__all__ = ["RECEIPT_HEADER", "Receipt", "format_receipt", "parse_receipt", "verify_receipt"]

RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"
_MAX_PROOF_LINES = 64  # a tree of at most 2**64 - 1 leaves has proofs of at most 64 hashes
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,19})\Z", re.ASCII)


def _canonical_b64(text: str) -> bytes:
    raw = _b64decode(text)
    if base64.b64encode(raw).decode() != text:
        raise FormatError("non-canonical base64")
    return raw


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt; ``checkpoint_note`` is kept verbatim so its signatures still verify."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not 0 <= self.index <= MAX_TREE_SIZE:
            raise FormatError("receipt index out of range")
        if len(self.proof) > _MAX_PROOF_LINES or any(len(h) != HASH_SIZE for h in self.proof):
            raise FormatError("receipt proof must be at most 64 hashes of 32 bytes")
        if not self.checkpoint_note.endswith("\n"):
            raise FormatError("receipt checkpoint must be a signed note")

    @classmethod
    def build(
        cls,
        index: int,
        proof: Sequence[bytes],
        checkpoint_note: str,
        extra: bytes | None = None,
    ) -> Receipt:
        return cls(index, tuple(proof), checkpoint_note, extra)

    def to_text(self) -> str:
        lines = [RECEIPT_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.proof)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint_note

    @classmethod
    def from_text(cls, text: str) -> Receipt:
        if len(text) > 2 * MAX_NOTE_SIZE:
            raise FormatError("receipt too large")
        header, sep, rest = text.partition("\n")
        if header != RECEIPT_HEADER or not sep:
            raise FormatError("not a c2sp.org/tlog-proof@v1 receipt")
        line, _, rest = rest.partition("\n")
        extra = None
        if line.startswith("extra "):
            extra = _canonical_b64(line[len("extra ") :])
            line, _, rest = rest.partition("\n")
        if not line.startswith("index ") or not _DECIMAL.match(line[len("index ") :]):
            raise FormatError("receipt index line missing or not canonical")
        index = int(line[len("index ") :])
        proof: list[bytes] = []
        while True:
            line, sep, rest = rest.partition("\n")
            if not sep:
                raise FormatError("receipt has no checkpoint")
            if not line:
                break
            if len(proof) == _MAX_PROOF_LINES:
                raise FormatError("receipt proof too long")
            proof.append(_canonical_b64(line))
        return cls(index, tuple(proof), rest, extra)


def format_receipt(
    index: int, proof: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None
) -> str:
    """The receipt text for leaf ``index`` given its inclusion proof and a signed checkpoint."""
    return Receipt.build(index, proof, checkpoint_note, extra).to_text()


def parse_receipt(text: str) -> Receipt:
    """Parse without verifying; use :func:`verify_receipt` before trusting anything in it."""
    return Receipt.from_text(text)


def verify_receipt(
    receipt_text: str, leaf_bytes: bytes, verifier: Verifier, origin: str | None = None
) -> Checkpoint:
    """Check that the log signed a tree containing ``leaf_bytes`` at the receipt's index.

    Returns the verified checkpoint so the caller can compare it with others (for
    consistency) or record it; raises FormatError or VerificationError otherwise.
    """
    receipt = Receipt.from_text(receipt_text)
    checkpoint = open_checkpoint(receipt.checkpoint_note, verifier, origin)
    verify_inclusion(
        leaf_hash(leaf_bytes), receipt.index, checkpoint.size, receipt.proof, checkpoint.root_hash
    )
    return checkpoint
