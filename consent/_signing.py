"""Client-side statement building and signing (runs on the advocate's machine).

The server never imports this module's signing functions: it holds no advocate private key
and cannot create, alter or re-sign a statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent._canonical import canonical_bytes
from consent._envelope import STATEMENT_PAYLOAD_TYPE, Envelope, Signature, pae
from consent._keys import key_id_of
from consent._statement import STATEMENT_TYPE, parse_statement_payload

__all__ = ["build_payload", "public_key_bytes", "sign_envelope", "sign_existing"]


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def build_payload(
    *,
    person_id: str,
    commitment: str,
    position: str,
    stated_on: dt.date,
    channel: str,
    previous: str | None,
    scope: dict[str, Any] | None = None,
    retracts: str | None = None,
    evidence: Sequence[dict[str, str]] = (),
    duress_concern: bool = False,
    today: dt.date | None = None,
) -> bytes:
    """RFC 8785 payload bytes, validated with the same rules the server applies."""
    body: dict[str, Any] = {
        "type": STATEMENT_TYPE,
        "person": {"id": person_id, "commitment": commitment},
        "position": position,
        "stated_on": stated_on.isoformat(),
        "channel": channel,
        "evidence": list(evidence),
        "duress_concern": duress_concern,
        "previous": previous,
    }
    if scope is not None:
        body["scope"] = scope
    if retracts is not None:
        body["retracts"] = retracts
    payload = canonical_bytes(body)
    parse_statement_payload(payload, today=today or dt.datetime.now(dt.UTC).date())
    return payload


def _sign(private_key: Ed25519PrivateKey, payload: bytes) -> Signature:
    return Signature(key_id_of(public_key_bytes(private_key)),
                     private_key.sign(pae(STATEMENT_PAYLOAD_TYPE, payload)))


def sign_envelope(payload: bytes, *signers: Ed25519PrivateKey) -> Envelope:
    return Envelope(STATEMENT_PAYLOAD_TYPE, payload, tuple(_sign(k, payload) for k in signers))


def sign_existing(envelope: Envelope, private_key: Ed25519PrivateKey) -> Signature:
    """A corroboration: one more signature over the same PAE bytes."""
    return _sign(private_key, envelope.payload)
