"""Canonical bytes: RFC 8785 (JSON Canonicalization Scheme) and strict JSON parsing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from consent._errors import InvalidInput

__all__ = ["canonical_bytes", "parse_json_strict", "sha256_hex"]


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value (UTF-8, sorted keys, ES6 number forms)."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput("The value cannot be canonicalised as JSON.") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput("The JSON has a duplicated member name.")
        result[key] = value
    return result


def _no_constants(_name: str) -> Any:
    raise InvalidInput("The JSON has a non-standard number (NaN or Infinity).")


def parse_json_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON refusing duplicate names, NaN/Infinity and invalid UTF-8.

    Duplicate names matter: two parsers that keep different duplicates would read one signed
    payload in two ways.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("The JSON is not valid UTF-8.") from exc
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput("The JSON could not be parsed.") from exc
