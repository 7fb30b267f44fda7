"""Errors of the domain core.

Every error the core raises derives from :class:`ConsentError`. Messages are fixed
sentences: they never carry submitted values, names or secrets, so callers may show them.

::

    ConsentError
    ├── InvalidInput                 bad input; nothing was changed
    │   ├── InvalidEnvelope          the DSSE envelope is malformed
    │   ├── InvalidStatement         the payload breaks the statement schema (``.code``)
    │   ├── InvalidIdentity          a person's identity fields are unusable (``.code``)
    │   ├── InvalidPublicKey         not a raw 32-byte Ed25519 public key
    │   └── ImportRejected           a CSV import had bad rows (``.rows``); nothing imported
    ├── InvalidSignature             a signature failed to verify (opaque on purpose)
    ├── KeyNotUsable                 the key is unknown, not approved or revoked
    ├── DecryptionError              ciphertext failed to authenticate (opaque on purpose)
    ├── KeystoreError                a local keystore could not be opened
    ├── KeyFileError                 a server key file is missing or unsafe
    ├── NotFound                     no such object (or not visible to the caller)
    ├── Forbidden                    the actor may not do this to this object
    ├── Conflict                     the request contradicts stored state
    │   ├── StaleChain               ``previous`` is not the person's latest statement
    │   ├── DuplicateStatement       this statement is already recorded
    │   └── DuplicateSignature       this key already signed this statement
    └── ConfigurationError           unsafe or incomplete settings
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "Conflict",
    "ConsentError",
    "DecryptionError",
    "DuplicateSignature",
    "DuplicateStatement",
    "Forbidden",
    "ImportRejected",
    "InvalidEnvelope",
    "InvalidIdentity",
    "InvalidInput",
    "InvalidPublicKey",
    "InvalidSignature",
    "InvalidStatement",
    "KeyFileError",
    "KeyNotUsable",
    "KeystoreError",
    "NotFound",
    "StaleChain",
]


class ConsentError(Exception):
    """Root of every error raised by the domain core."""

    default_message = "The operation failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidInput(ConsentError):
    default_message = "The input is not valid."


class InvalidEnvelope(InvalidInput):
    default_message = "The envelope is not a valid DSSE envelope."


class InvalidStatement(InvalidInput):
    """The payload breaks the statement schema; ``code`` names the rule, never the value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidIdentity(InvalidInput):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidPublicKey(InvalidInput):
    default_message = "The public key must be a raw 32-byte Ed25519 key."


class ImportRejected(InvalidInput):
    """A CSV import was refused as a whole. ``rows`` lists (line number, code, message)."""

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        super().__init__("The import was refused; no row was imported.")
        self.rows = rows


class InvalidSignature(ConsentError):
    default_message = "A signature did not verify."


class KeyNotUsable(ConsentError):
    default_message = "The signing key is unknown, not approved, or revoked."


class DecryptionError(ConsentError):
    default_message = "Decryption failed."


class KeystoreError(ConsentError):
    default_message = "The keystore could not be opened."


class KeyFileError(ConsentError):
    default_message = "A key file is missing or unsafe."


class NotFound(ConsentError):
    default_message = "Not found."


class Forbidden(ConsentError):
    default_message = "Not allowed."


class Conflict(ConsentError):
    default_message = "The request conflicts with the stored state."


class StaleChain(Conflict):
    default_message = "The statement's 'previous' is not the person's latest statement."


class DuplicateStatement(Conflict):
    default_message = "This statement is already recorded."


class DuplicateSignature(Conflict):
    default_message = "This key has already signed this statement."


class ConfigurationError(ConsentError):
    default_message = "The configuration is unsafe or incomplete."
