"""Where the command line keeps its state: the user's config directory.

Layout (``CONSENT_CONFIG_DIR``, else the platform's config directory for ``exchange-consent``,
e.g. ``~/.config/exchange-consent``)::

    sessions/<profile>.json     server URL, username, bearer token (0600)
    keys/<profile>.json         the advocate's passphrase-protected signing keystore (0600)
    receipts/<statement id>.txt receipts of the statements this user recorded or corroborated

A *profile* lets several accounts live on one machine (``--profile`` or ``CONSENT_PROFILE``);
most people never need more than the default one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from consent.cli._errors import CliError, UsageError

__all__ = ["DEFAULT_SERVER", "Session", "State", "write_private"]

DEFAULT_SERVER = "http://127.0.0.1:8000"
APP_NAME = "exchange-consent"
_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by its owner only (0600)."""
    _private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Session:
    server: str
    username: str
    access_token: str
    expires_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "username": self.username,
            "access_token": self.access_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Session:
        expires = raw.get("expires_at")
        return cls(
            server=str(raw["server"]),
            username=str(raw.get("username", "")),
            access_token=str(raw["access_token"]),
            expires_at=dt.datetime.fromisoformat(expires) if isinstance(expires, str) else None,
        )

    def expired(self, now: dt.datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return (now or dt.datetime.now(dt.UTC)) >= self.expires_at


@dataclass
class State:
    """The options every command shares, resolved once by the root callback."""

    config_dir: Path
    profile: str
    server_option: str | None
    environ: Mapping[str, str]

    @classmethod
    def create(cls, *, config_dir: Path | None, profile: str | None, server: str | None,
               environ: Mapping[str, str] = os.environ) -> State:
        chosen_dir = config_dir or (Path(environ["CONSENT_CONFIG_DIR"])
                                    if environ.get("CONSENT_CONFIG_DIR")
                                    else Path(typer.get_app_dir(APP_NAME)))
        chosen_profile = profile or environ.get("CONSENT_PROFILE") or "default"
        if not _PROFILE.fullmatch(chosen_profile):
            raise UsageError("A profile name is 1 to 64 letters, digits, '.', '_' or '-'.")
        return cls(chosen_dir, chosen_profile, server or environ.get("CONSENT_SERVER") or None,
                   environ)

    # -- paths ---------------------------------------------------------------------------

    @property
    def session_path(self) -> Path:
        return self.config_dir / "sessions" / f"{self.profile}.json"

    @property
    def keystore_path(self) -> Path:
        return self.config_dir / "keys" / f"{self.profile}.json"

    @property
    def receipts_dir(self) -> Path:
        return _private_dir(self.config_dir / "receipts")

    # -- the session ---------------------------------------------------------------------

    def load_session(self) -> Session | None:
        try:
            raw = json.loads(self.session_path.read_text(encoding="utf-8"))
            return Session.from_json(raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_session(self, session: Session) -> None:
        write_private(self.session_path,
                      (json.dumps(session.to_json(), indent=2) + "\n").encode("utf-8"))

    def forget_session(self) -> None:
        self.session_path.unlink(missing_ok=True)

    def server(self) -> str:
        """The server to talk to: ``--server``, ``CONSENT_SERVER``, the session's, the default."""
        if self.server_option:
            return self.server_option.rstrip("/")
        session = self.load_session()
        if session is not None:
            return session.server.rstrip("/")
        return DEFAULT_SERVER

    def require_session(self) -> Session:
        session = self.load_session()
        if session is None or not session.access_token:
            raise CliError("You are not signed in: run 'consent login' first.")
        if self.server_option and self.server_option.rstrip("/") != session.server.rstrip("/"):
            raise CliError("You are signed in to another server: run 'consent login' for this "
                           "one.")
        if session.expired():
            raise CliError("Your session has expired: run 'consent login' again.")
        return session
