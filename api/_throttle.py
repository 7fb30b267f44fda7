"""Failure throttling per account and per client address.

An attempt is counted *before* its secret is verified, inside a serialised write transaction,
and only un-counted when it succeeds. So the check happens before verifying, every failure
stays counted, and concurrent guesses cannot slip past the limit: at most ``limit`` attempts
per key are ever verified within a window. A key over its limit is locked until the lockout
ends; a locked key refuses without verifying anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from consent._tables import Throttle

__all__ = ["ThrottleRule", "clear", "release", "reserve"]


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    key: str
    limit: int


def _fresh(row: Throttle, now: dt.datetime, window: dt.timedelta) -> None:
    expired_lock = row.locked_until is not None and row.locked_until <= now
    if expired_lock or (row.locked_until is None and now - row.window_start >= window):
        row.failures, row.window_start, row.locked_until = 0, now, None


def reserve(session: Session, rules: Sequence[ThrottleRule], now: dt.datetime, *,
            window: dt.timedelta, lockout: dt.timedelta) -> bool:
    """Count one attempt against every key; False, counting nothing, if any key is locked."""
    rows: list[tuple[ThrottleRule, Throttle]] = []
    for rule in rules:
        row = session.get(Throttle, rule.key)
        if row is None:
            row = Throttle(key=rule.key, failures=0, window_start=now)
        else:
            _fresh(row, now, window)
        if row.locked_until is not None:
            return False
        rows.append((rule, row))
    for rule, row in rows:
        row.failures += 1
        if row.failures >= rule.limit:
            row.locked_until = now + lockout
        session.add(row)
    session.flush()
    return True


def release(session: Session, rules: Sequence[ThrottleRule]) -> None:
    """Un-count one reserved attempt that succeeded."""
    for rule in rules:
        row = session.get(Throttle, rule.key)
        if row is None or row.failures == 0:
            continue
        row.failures -= 1
        if row.failures < rule.limit:
            row.locked_until = None
        session.add(row)
    session.flush()


def clear(session: Session, key: str) -> None:
    row = session.get(Throttle, key)
    if row is not None:
        row.failures, row.locked_until = 0, None
        session.add(row)
        session.flush()
