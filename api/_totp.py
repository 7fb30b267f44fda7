"""RFC 6238 TOTP with pyotp: 160-bit secrets, 30-second steps, one step either side.

This module only computes. Replay protection (a step is accepted once, and only if it is
greater than the last accepted step) is an atomic conditional update in ``_signin``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from urllib.parse import quote

import pyotp

__all__ = ["DIGITS", "STEP_SECONDS", "code_at", "matching_step", "new_secret",
           "provisioning_uri", "step_at"]

STEP_SECONDS = 30
DIGITS = 6
SECRET_BASE32_CHARS = 32  # 32 base32 characters = 160 bits (RFC 4226 recommends 160)
WINDOW = 1


def new_secret() -> str:
    return str(pyotp.random_base32(length=SECRET_BASE32_CHARS))


def step_at(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step))


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The greatest step within one step of ``now`` whose code is ``code``, or None.

    Every candidate step is compared, in constant time, whatever matched before.
    """
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = step_at(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()):
            found = step
    return found


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """An ``otpauth://totp/`` URI (Key Uri Format) for authenticator apps."""
    label = quote(f"{issuer}:{username}", safe=":@")
    return (f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
            f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}")
