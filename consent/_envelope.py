"""DSSE envelopes: parsing, serialising, and the pre-authentication encoding.

An :class:`Envelope` is only a container; whether its signatures count is decided by the
statement service against the key registry.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from audit import pae
from consent._canonical import parse_json_strict, sha256_hex
from consent._errors import InvalidEnvelope, InvalidInput

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MAX_SIGNATURES",
    "STATEMENT_PAYLOAD_TYPE",
    "Envelope",
    "Signature",
    "b64decode_strict",
    "b64encode",
    "pae",
]

STATEMENT_PAYLOAD_TYPE = "application/vnd.exchange-consent.statement.v1+json"
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_SIGNATURES = 32
_KEYID = re.compile(r"^[0-9a-f]{64}$")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding; anything else is refused rather than guessed at."""
    if not isinstance(text, str):
        raise InvalidEnvelope()
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidEnvelope("A field is not valid standard base64.") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise InvalidEnvelope("A field is not canonical standard base64.")
    return data


@dataclass(frozen=True, slots=True)
class Signature:
    keyid: str
    sig: bytes

    @classmethod
    def from_json(cls, value: Any) -> Signature:
        if not isinstance(value, dict) or set(value) != {"keyid", "sig"}:
            raise InvalidEnvelope("A signature must have exactly 'keyid' and 'sig'.")
        keyid = value["keyid"]
        if not isinstance(keyid, str) or not _KEYID.fullmatch(keyid):
            raise InvalidEnvelope("A signature's keyid must be 64 lowercase hex digits.")
        sig = b64decode_strict(value["sig"])
        if len(sig) != 64:
            raise InvalidEnvelope("An Ed25519 signature is 64 bytes.")
        return cls(keyid=keyid, sig=sig)

    def to_json(self) -> dict[str, str]:
        return {"keyid": self.keyid, "sig": b64encode(self.sig)}


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    @property
    def statement_id(self) -> str:
        return sha256_hex(self.payload)

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    @classmethod
    def from_json(cls, value: Any) -> Envelope:
        if not isinstance(value, dict):
            raise InvalidEnvelope("The envelope must be a JSON object.")
        if set(value) != {"payloadType", "payload", "signatures"}:
            raise InvalidEnvelope(
                "The envelope must have exactly 'payloadType', 'payload' and 'signatures'."
            )
        payload_type = value["payloadType"]
        if payload_type != STATEMENT_PAYLOAD_TYPE:
            raise InvalidEnvelope("The envelope's payloadType is not the statement type.")
        payload = b64decode_strict(value["payload"])
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InvalidEnvelope("The payload is too large.")
        raw_signatures = value["signatures"]
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise InvalidEnvelope("The envelope needs at least one signature.")
        if len(raw_signatures) > MAX_SIGNATURES:
            raise InvalidEnvelope("The envelope has too many signatures.")
        signatures = tuple(Signature.from_json(s) for s in raw_signatures)
        if len({s.keyid for s in signatures}) != len(signatures):
            raise InvalidEnvelope("The envelope has two signatures with the same keyid.")
        return cls(payload_type=payload_type, payload=payload, signatures=signatures)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        try:
            value = parse_json_strict(data)
        except InvalidInput as exc:
            raise InvalidEnvelope("The envelope is not valid JSON.") from exc
        return cls.from_json(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": b64encode(self.payload),
            "signatures": [s.to_json() for s in self.signatures],
        }
