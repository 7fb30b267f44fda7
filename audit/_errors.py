"""Errors raised by the audit package.

::

    AuditError                  root: catch this to catch everything below
    ├── FormatError             input that cannot be parsed (note, key, checkpoint, receipt)
    ├── OutOfRangeError         a proof or root asked for an index/size the request cannot have
    └── VerificationError       any failed cryptographic or proof check (opaque)
        └── LogVerificationError   the offline log verifier: carries the leaf index at fault

A failed check is deliberately opaque: the message says *that* a signature, proof or root
did not verify, never which byte or which intermediate hash differed.  A caller that could
learn where a forged proof went wrong could use the verifier as an oracle while forging; an
auditor needs only the yes/no answer (and, for a whole log, the entry to look at).
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "FormatError",
    "LogVerificationError",
    "OutOfRangeError",
    "VerificationError",
]


class AuditError(Exception):
    """Root of every error the audit package raises on purpose."""


class FormatError(AuditError):
    """The input is not in the expected format; nothing about its authenticity is implied."""


class OutOfRangeError(AuditError):
    """A proof, root or append was requested for an index or size that cannot exist.

    Kept apart from FormatError so that an HTTP layer can answer 400/404 without
    suggesting that anything was tampered with.
    """


class VerificationError(AuditError):
    """A signature, proof or root did not verify.  Deliberately says nothing more."""


class LogVerificationError(VerificationError):
    """The offline log verifier found a problem at (or before) a leaf index.

    ``index`` and ``exact`` together say where to look:

    * ``exact=True``: the entry at ``index`` is itself at fault (bad signature, a key that
      was not approved there, a statement whose ``previous`` is not its person's latest
      statement, a malformed key/statement event) or is missing/extra (``index`` is then
      the first missing position, the first entry beyond the checkpoint, or for a
      checkpoint older than the trusted one its size).
    * ``exact=False``: a Merkle root did not match, and a root cannot say which leaf
      changed; the rewrite lies somewhere in ``[0, index)`` where ``index`` is the tree
      size of the root that failed (the trusted checkpoint's size when its prefix failed,
      else the checkpoint's size).

    ``reason`` is one short word from a fixed set (``entry``, ``signature``, ``key``,
    ``chain``, ``count``, ``rollback``, ``trusted_root``, ``root``) so a command line can
    explain the failure without parsing the message.
    """

    def __init__(self, index: int, *, exact: bool, reason: str) -> None:
        self.index = index
        self.exact = exact
        self.reason = reason
        where = f"at index {index}" if exact else f"before index {index}"
        super().__init__(f"log verification failed {where} ({reason})")
