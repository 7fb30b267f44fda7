"""Policy documents: a small, strict TOML format, and the bundled documents.

A policy document looks exactly like this (DESIGN §6)::

    id = "explicit-consent"
    version = 1

    [parameters]
    min_consent_signers = 2
    require_distinct_organisations = false
    max_consent_age_days = 180
    exclude_duress_concern = true

Parsing is strict: an unknown key, a missing key, a wrong type (a bool is not an int) or
an impossible value is a ``PolicyDocumentError`` naming the key, never the value. A
``Policy`` is always exactly its document: constructing one re-reads the document bytes and
refuses parameters or a hash that do not match them, so the hash a decision names is the
hash of the rules that produced it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from policies._errors import PolicyDocumentError, PolicyNotFound

__all__ = [
    "DEFAULT_POLICY_ID",
    "MAX_DOCUMENT_BYTES",
    "Policy",
    "bundled_policy",
    "default_policy",
    "parse_policy",
]

DEFAULT_POLICY_ID: Final = "explicit-consent"
MAX_DOCUMENT_BYTES: Final = 64 * 1024

# Principle 2: a consent needs at least two distinct advocates; two is the floor.
MIN_CONSENT_SIGNERS_RANGE: Final = range(2, 20 + 1)
MAX_CONSENT_AGE_DAYS_RANGE: Final = range(1, 3650 + 1)

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_TOP_LEVEL_KEYS: Final = ("id", "version", "parameters")
_PARAMETER_KEYS: Final = (
    "min_consent_signers",
    "require_distinct_organisations",
    "max_consent_age_days",
    "exclude_duress_concern",
)
_TOML_POSITION = re.compile(r"\(at (line \d+, column \d+|end of document)\)$")


def _error(key: str | None, problem: str, message: str) -> PolicyDocumentError:
    return PolicyDocumentError(message, key=key, problem=problem)


def _key_name(key: str) -> str:
    # A key name is not a value, but it comes from the document: keep it short and ASCII.
    return ascii(key[:64])


def _check_keys(table: dict[str, object], allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        name = _key_name(unknown[0])
        raise _error(
            prefix + unknown[0][:64], "unknown_key", f"policy document: unknown key {prefix}{name}"
        )
    for key in allowed:
        if key not in table:
            raise _error(
                prefix + key, "missing_key", f"policy document: missing key '{prefix}{key}'"
            )


def _int(table: dict[str, object], key: str, prefix: str, bounds: range) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(
            prefix + key, "wrong_type", f"policy document: '{prefix}{key}' must be an integer"
        )
    if value not in bounds:
        raise _error(
            prefix + key,
            "out_of_range",
            f"policy document: '{prefix}{key}' must be from {bounds.start} to {bounds[-1]}",
        )
    return value


def _bool(table: dict[str, object], key: str, prefix: str) -> bool:
    value = table[key]
    if not isinstance(value, bool):
        raise _error(
            prefix + key, "wrong_type", f"policy document: '{prefix}{key}' must be a boolean"
        )
    return value


@dataclass(frozen=True, slots=True)
class _Fields:
    id: str
    version: int
    min_consent_signers: int
    require_distinct_organisations: bool
    max_consent_age_days: int
    exclude_duress_concern: bool


def _read(document: object) -> _Fields:
    """Parse and check a document; the single place where policy documents are judged."""
    if not isinstance(document, bytes):
        raise _error(None, "wrong_type", "policy document must be given as bytes")
    if len(document) > MAX_DOCUMENT_BYTES:
        raise _error(None, "too_large", f"policy document exceeds {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(None, "encoding", "policy document is not valid UTF-8") from None
    try:
        data: dict[str, object] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib messages can quote document text; keep only the position.
        found = _TOML_POSITION.search(str(exc))
        where = f" (at {found.group(1)})" if found else ""
        raise _error(None, "syntax", f"policy document is not valid TOML{where}") from None

    _check_keys(data, _TOP_LEVEL_KEYS, "")
    policy_id = data["id"]
    if not isinstance(policy_id, str):
        raise _error("id", "wrong_type", "policy document: 'id' must be a string")
    if not _ID.fullmatch(policy_id):
        raise _error(
            "id",
            "out_of_range",
            "policy document: 'id' must match ^[a-z0-9][a-z0-9-]{0,63}$",
        )
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise _error("version", "wrong_type", "policy document: 'version' must be an integer")
    if version < 1:
        raise _error("version", "out_of_range", "policy document: 'version' must be at least 1")
    parameters = data["parameters"]
    if not isinstance(parameters, dict):
        raise _error("parameters", "wrong_type", "policy document: 'parameters' must be a table")

    prefix = "parameters."
    _check_keys(parameters, _PARAMETER_KEYS, prefix)
    return _Fields(
        id=policy_id,
        version=version,
        min_consent_signers=_int(
            parameters, "min_consent_signers", prefix, MIN_CONSENT_SIGNERS_RANGE
        ),
        require_distinct_organisations=_bool(parameters, "require_distinct_organisations", prefix),
        max_consent_age_days=_int(
            parameters, "max_consent_age_days", prefix, MAX_CONSENT_AGE_DAYS_RANGE
        ),
        exclude_duress_concern=_bool(parameters, "exclude_duress_concern", prefix),
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """An eligibility policy: its parameters, its document bytes and their SHA-256 (hex).

    Build one with ``parse_policy``; direct construction is allowed but must agree with the
    document bytes exactly, or it raises ``PolicyDocumentError`` (problem ``"mismatch"``).
    """

    id: str
    version: int
    min_consent_signers: int
    require_distinct_organisations: bool
    max_consent_age_days: int
    exclude_duress_concern: bool
    document: bytes = field(repr=False)
    sha256: str

    def __post_init__(self) -> None:
        fields = _read(self.document)
        for name in (f.name for f in dataclasses.fields(_Fields)):
            mine, read = getattr(self, name), getattr(fields, name)
            if type(mine) is not type(read) or mine != read:
                raise _error(name, "mismatch", f"Policy.{name} does not match the policy document")
        if self.sha256 != hashlib.sha256(self.document).hexdigest():
            raise _error("sha256", "mismatch", "Policy.sha256 is not the SHA-256 of the document")


def parse_policy(document: bytes) -> Policy:
    """Parse a policy document strictly; raise ``PolicyDocumentError`` on any defect."""
    fields = _read(document)
    return Policy(
        id=fields.id,
        version=fields.version,
        min_consent_signers=fields.min_consent_signers,
        require_distinct_organisations=fields.require_distinct_organisations,
        max_consent_age_days=fields.max_consent_age_days,
        exclude_duress_concern=fields.exclude_duress_concern,
        document=document,
        sha256=hashlib.sha256(document).hexdigest(),
    )


@lru_cache(maxsize=16)
def bundled_policy(policy_id: str) -> Policy:
    """Load the policy document ``policies/<policy_id>.toml`` shipped with the package.

    Raises ``PolicyNotFound`` for an id that is ill-formed or not bundled, and
    ``PolicyDocumentError`` if the file is defective or declares a different id.
    """
    if not isinstance(policy_id, str) or not _ID.fullmatch(policy_id):
        raise PolicyNotFound("no bundled policy with that id (ill-formed id)")
    resource = importlib.resources.files("policies").joinpath(f"{policy_id}.toml")
    if not resource.is_file():
        raise PolicyNotFound("no bundled policy with that id")
    policy = parse_policy(resource.read_bytes())
    if policy.id != policy_id:
        raise _error("id", "mismatch", "bundled policy document declares a different id")
    return policy


def default_policy() -> Policy:
    """The bundled ``explicit-consent`` policy (DESIGN §6)."""
    return bundled_policy(DEFAULT_POLICY_ID)
