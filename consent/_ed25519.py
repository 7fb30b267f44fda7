"""Ed25519 key ids and signature checks, with no database import (the offline verifiers use it)."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["key_id_of", "verify_ed25519"]


def key_id_of(public_key: bytes) -> str:
    """Hex SHA-256 of the raw 32-byte public key (DESIGN section 5)."""
    return hashlib.sha256(public_key).hexdigest()


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True only for a valid signature by a well-formed key; never raises on bad input."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
