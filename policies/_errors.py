"""Errors raised by the ``policies`` package.

Every error this package raises derives from one root::

    PolicyError                      root; also raised for an empty AllOf()/AnyOf()
    ├── PolicyDocumentError          a policy document is malformed (also ValueError)
    ├── PolicyNotFound               no bundled policy has that id (also LookupError)
    └── PolicyInputError             facts handed to the engine are malformed (also ValueError)

Messages name the offending key or field, never the offending value: a policy document
or a statement may carry data that must not end up in logs or error bodies.
"""

from __future__ import annotations

__all__ = ["PolicyDocumentError", "PolicyError", "PolicyInputError", "PolicyNotFound"]


class PolicyError(Exception):
    """Root of every error raised by ``policies``."""


class PolicyDocumentError(PolicyError, ValueError):
    """A policy document is not acceptable.

    ``key`` is the dotted key at fault (``None`` for the document as a whole) and
    ``problem`` one of ``"too_large"``, ``"encoding"``, ``"syntax"``, ``"unknown_key"``,
    ``"missing_key"``, ``"wrong_type"``, ``"out_of_range"``, ``"mismatch"``.
    """

    def __init__(self, message: str, *, key: str | None, problem: str) -> None:
        super().__init__(message)
        self.key = key
        self.problem = problem


class PolicyNotFound(PolicyError, LookupError):
    """No policy document with that id is bundled with the package."""


class PolicyInputError(PolicyError, ValueError):
    """A value handed to the model or the engine violates its documented shape."""
