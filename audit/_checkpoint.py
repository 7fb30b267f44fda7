"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint is the text of a signed note: origin, decimal tree size, base64 root hash,
then optional extension lines.  The parser is strict (canonical decimal and base64, a
32-byte root, no empty lines) because two different texts for one tree head would let a
log show different checkpoints to different people while each one verifies.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ._errors import FormatError, VerificationError
from ._merkle import HASH_SIZE
from ._note import Signer, Verifier, _b64decode, open_note, sign_note

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "open_checkpoint", "sign_checkpoint"]

MAX_TREE_SIZE = (1 << 64) - 1  # what every other implementation can represent
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z", re.ASCII)


def _check_line(line: str, what: str) -> None:
    if not line or any(ord(ch) < 0x20 or ch == "\x7f" for ch in line):
        raise FormatError(f"checkpoint {what} must be a non-empty line without control characters")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: which log, how many leaves, and the RFC 6962 root of those leaves."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise FormatError("checkpoint size out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise FormatError("checkpoint root hash must be 32 bytes")
        for line in self.extensions:
            _check_line(line, "extension line")

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise FormatError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("checkpoint needs origin, size and root lines")
        origin, size_text, root64, *extensions = lines
        if len(size_text) > 20 or not _DECIMAL.match(size_text):
            raise FormatError("checkpoint size is not a canonical decimal")
        root = _b64decode(root64)
        if base64.b64encode(root).decode() != root64:
            raise FormatError("checkpoint root is not canonical base64")
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note, ready to serve verbatim."""
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify the note signature first, then parse; optionally insist on the origin.

    Parsing only after verification keeps unauthenticated text from reaching the parser's
    result.  An origin mismatch is a VerificationError: a validly signed head of another log.
    """
    checkpoint = Checkpoint.from_text(open_note(note, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError("checkpoint is for another log")
    return checkpoint
