"""Passwords: Argon2id hashing (PHC string format) and the password policy.

Hashes carry their own parameters and salt (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``), so
the parameters can be raised later without invalidating stored hashes. Verification derives
again with the stored parameters and compares in constant time. Unknown users are verified
against a dummy hash made at start-up, so they cost the same Argon2id work as a real user.

Policy (NIST SP 800-63B): 12 to 128 characters after NFKC normalisation, no composition
rules, refused when on the bundled list of common passwords (``common-passwords.txt``), when
made of one short unit repeated, or when it contains the username.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import unicodedata
from functools import cache
from importlib import resources

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "PasswordHasher",
    "WeakPasswordError",
    "check_password_policy",
    "common_passwords",
    "normalise_password",
]

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 128
_SALT_BYTES = 16
_HASH_BYTES = 32
_PHC = re.compile(
    r"^\$argon2id\$v=19\$m=(?P<m>[0-9]{1,8}),t=(?P<t>[0-9]{1,4}),p=(?P<p>[0-9]{1,3})"
    r"\$(?P<salt>[A-Za-z0-9+/]{16,64})\$(?P<hash>[A-Za-z0-9+/]{16,128})$"
)


class WeakPasswordError(ValueError):
    """The password breaks the policy; ``code`` names the rule, never the password."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("api").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _repeated_unit(text: str) -> bool:
    """True for 'aaaaaaaaaaaa', 'abababababab', 'abcdabcdabcd' and the like."""
    for period in range(1, 5):
        if len(text) % period == 0 and text == text[:period] * (len(text) // period):
            return True
    return False


def check_password_policy(password: str, username: str) -> str:
    """Return the normalised password, or raise :class:`WeakPasswordError`."""
    normal = normalise_password(password)
    if len(normal) < MIN_PASSWORD_CHARS:
        raise WeakPasswordError("password_too_short", "The password needs at least 12 characters.")
    if len(normal) > MAX_PASSWORD_CHARS:
        raise WeakPasswordError("password_too_long",
                                "The password may have at most 128 characters.")
    folded = normal.casefold()
    if folded in common_passwords() or _repeated_unit(folded):
        raise WeakPasswordError("password_common", "The password is too common.")
    name = normalise_password(username).casefold()
    if name and name in folded:
        raise WeakPasswordError("password_contains_username", "The password contains the username.")
    return normal


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class PasswordHasher:
    """Argon2id with fixed parameters; ``verify`` also accepts hashes made with others."""

    def __init__(self, *, memory_kib: int = 19 * 1024, iterations: int = 2,
                 lanes: int = 1) -> None:
        if memory_kib < 19 * 1024 or iterations < 2 or lanes < 1:
            raise ValueError("Argon2id parameters below the OWASP minimum.")
        self.memory_kib = memory_kib
        self.iterations = iterations
        self.lanes = lanes
        self._dummy = self.hash(os.urandom(32).hex())

    def _kdf(self, salt: bytes, memory_kib: int, iterations: int, lanes: int,
             length: int) -> Argon2id:
        return Argon2id(salt=salt, length=length, iterations=iterations, lanes=lanes,
                        memory_cost=memory_kib)

    def hash(self, password: str) -> str:
        salt = os.urandom(_SALT_BYTES)
        digest = self._kdf(salt, self.memory_kib, self.iterations, self.lanes,
                           _HASH_BYTES).derive(normalise_password(password).encode("utf-8"))
        return (f"$argon2id$v=19$m={self.memory_kib},t={self.iterations},p={self.lanes}"
                f"${_b64(salt)}${_b64(digest)}")

    def verify(self, encoded: str | None, password: str) -> bool:
        """Constant-time check. ``encoded=None`` (unknown user, no password yet) does the
        same Argon2id work against the dummy hash and returns False."""
        target = encoded if encoded is not None else self._dummy
        match = _PHC.fullmatch(target)
        if match is None:
            target, match = self._dummy, _PHC.fullmatch(self._dummy)
            encoded = None
        assert match is not None
        try:
            salt, expected = _unb64(match["salt"]), _unb64(match["hash"])
        except (binascii.Error, ValueError):
            return False
        memory, iterations, lanes = int(match["m"]), int(match["t"]), int(match["p"])
        if memory < 19 * 1024 or iterations < 2 or lanes < 1 or memory > 4 * 1024 * 1024:
            return False
        actual = self._kdf(salt, memory, iterations, lanes, len(expected)).derive(
            normalise_password(password).encode("utf-8"))
        equal = hmac.compare_digest(actual, expected)
        return equal and encoded is not None

    def needs_rehash(self, encoded: str) -> bool:
        match = _PHC.fullmatch(encoded)
        return match is None or (int(match["m"]), int(match["t"]), int(match["p"])) != (
            self.memory_kib, self.iterations, self.lanes)
