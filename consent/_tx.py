"""Actors, and the write transaction that carries its own log appends.

Every state change goes through :meth:`Tx.log`, inside the same database transaction as the
change itself: either both are durable or neither is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session

from audit.storage import LogStore
from consent._canonical import canonical_bytes
from consent._errors import Forbidden

__all__ = ["ROLES", "Actor", "Role", "Tx", "require_role", "rfc3339"]

Role = Literal["admin", "advocate", "compiler", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "advocate", "compiler", "auditor")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting. The API builds it from a verified session, never from request bodies."""

    user_id: str
    role: Role
    organisation_id: str | None = None


SYSTEM: Actor | None = None


def require_role(actor: Actor, *roles: Role) -> None:
    """Deny by default: the core checks roles too, so a routing mistake cannot open a door."""
    if actor.role not in roles:
        raise Forbidden()


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Tx:
    session: Session
    store: LogStore
    now: dt.datetime

    def log(self, tag: str, actor: Actor | None, **members: Any) -> int:
        """Append one event (ids and hashes only) and return its log index."""
        event = {"tag": tag, "time": rfc3339(self.now),
                 "actor": actor.user_id if actor else None, **members}
        return self.store.append(self.session, canonical_bytes(event), tag)

    def log_many(self, tag: str, actor: Actor | None,
                 members: list[dict[str, Any]]) -> list[int]:
        """Append one event per item of ``members``, in order, in bulk."""
        base = {"tag": tag, "time": rfc3339(self.now), "actor": actor.user_id if actor else None}
        return self.store.append_many(
            self.session, [(canonical_bytes({**base, **m}), tag) for m in members])
