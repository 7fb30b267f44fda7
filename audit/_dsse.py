"""DSSE pre-authentication encoding (secure-systems-lab/dsse, protocol.md).

Signatures cover ``PAE(payloadType, payload)`` rather than the payload alone so that a
signature over one payload type can never be replayed as a signature over another, and
so that no parser has to be trusted to find where the type ends and the payload begins.
"""

from __future__ import annotations

__all__ = ["pae"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """``DSSEv1 SP len(type) SP type SP len(payload) SP payload``, lengths in bytes, decimal."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)
