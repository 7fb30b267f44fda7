"""Opaque secrets handed to clients: bearer tokens, sign-in challenges, recovery codes.

Only SHA-256 hashes are stored. Every secret here has at least 120 random bits, so a fast
hash is enough (NIST SP 800-63B, 5.1.2.2: look-up secrets of 112 bits or more need no
password hashing); a stolen table cannot be turned back into working secrets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["RECOVERY_CODE_COUNT", "hash_recovery_code", "hash_token", "keyed_hash",
           "new_recovery_code", "new_token"]

TOKEN_BYTES = 32  # 256 bits, url-safe base64
RECOVERY_CODE_COUNT = 8
RECOVERY_CODE_BYTES = 15  # 120 bits = 24 base32 characters


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_recovery_code() -> str:
    """Lower-case base32 in six groups of four: ``abcd-efgh-ijkl-mnop-qrst-uvwx``."""
    text = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode("ascii").lower()
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def _normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch not in "- ")


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(b"recovery-code\x00" + _normalise_recovery_code(code).encode(
        "utf-8")).hexdigest()


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 for pseudonymous keys: client addresses, attempted usernames."""
    message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
