"""Security events: every sign-in outcome, as a row and as an application log record.

Tags are ``source:subject:action`` (``auth:user:login_failed``). An event carries the user
id when one is known and an HMAC of the client address; never a username, password, code,
token or any other submitted value.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session

from consent._tables import SecurityEvent

__all__ = ["SECURITY_LOGGER", "record_event"]

SECURITY_LOGGER = logging.getLogger("consent.security")


def record_event(session: Session, tag: str, *, user_id: str | None,
                 address_hash: str | None, now: dt.datetime) -> None:
    session.add(SecurityEvent(tag=tag, user_id=user_id, address_hash=address_hash,
                              created_at=now))
    session.flush()
    SECURITY_LOGGER.info("%s user=%s address=%s", tag, user_id or "-",
                         (address_hash or "-")[:16])
