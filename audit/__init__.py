"""The transparency log's pure side: Merkle trees, signed notes, checkpoints, receipts.

Everything here is standard library plus ``cryptography``, reads no clock and draws no
randomness, so an auditor can run it offline against a dump.  ``audit.storage`` (the
database side) builds on this package and is deliberately not imported here.
"""

from ._checkpoint import MAX_TREE_SIZE, Checkpoint, open_checkpoint, sign_checkpoint
from ._dsse import pae
from ._errors import (
    AuditError,
    FormatError,
    LogVerificationError,
    OutOfRangeError,
    VerificationError,
)
from ._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    InMemoryTree,
    NodeMap,
    NodeReader,
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
from ._note import MAX_NOTE_SIGNATURES, MAX_NOTE_SIZE, Signer, Verifier, open_note, sign_note
from ._receipt import RECEIPT_HEADER, Receipt, format_receipt, parse_receipt, verify_receipt
from ._verifier import STATEMENT_PAYLOAD_TYPE, VerifyReport, read_dump, verify_log

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_NOTE_SIGNATURES",
    "MAX_NOTE_SIZE",
    "MAX_TREE_SIZE",
    "RECEIPT_HEADER",
    "STATEMENT_PAYLOAD_TYPE",
    "AuditError",
    "Checkpoint",
    "FormatError",
    "InMemoryTree",
    "LogVerificationError",
    "NodeMap",
    "NodeReader",
    "OutOfRangeError",
    "Receipt",
    "Signer",
    "VerificationError",
    "Verifier",
    "VerifyReport",
    "consistency_proof",
    "format_receipt",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_completed_by_append",
    "nodes_needed_for_append",
    "nodes_needed_for_consistency",
    "nodes_needed_for_inclusion",
    "nodes_needed_for_root",
    "open_checkpoint",
    "open_note",
    "pae",
    "parse_receipt",
    "read_dump",
    "root_at",
    "root_from_leaf_hashes",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_receipt",
]
