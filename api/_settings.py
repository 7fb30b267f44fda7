"""Settings of the HTTP service, and the refusal to start unsafely in production.

Settings are an immutable value built once: from keyword arguments in tests, from the
environment (``CONSENT_*``) for ``uvicorn --factory api.app:factory``. In production mode
the service refuses to start with a missing or default secret, with a wildcard host
allow-list, or with the interactive docs on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from consent._errors import ConfigurationError

__all__ = ["DEFAULT_SECRETS", "SECRET_FILE_NAME", "Settings", "load_secret"]

SECRET_FILE_NAME = "api-secret"  # noqa: S105 - a file name, not a secret

#: Placeholders seen in templates and tutorials. A secret equal to one of these (or built
#: only from one repeated character, or shorter than 32 characters) is refused in production.
DEFAULT_SECRETS = frozenset({
    "", "changethis", "changeme", "change-me", "change_me", "secret", "secret-key",
    "secretkey", "your-secret-key", "your_secret_key", "insecure", "development", "dev",
    "test", "testing", "password", "default", "example", "xxx", "todo",
})
MIN_SECRET_CHARS = 32

PositiveInt = Annotated[int, Field(gt=0)]


class Settings(BaseModel):
    """Every knob of the HTTP service. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: bool = False
    #: HMAC key for client-address and username hashing (throttle keys, security events).
    secret_key: SecretStr | None = None
    data_dir: Path | None = None
    database_url: str | None = None
    trusted_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "testserver")
    cors_origins: tuple[str, ...] = ()
    docs_enabled: bool = False
    max_body_bytes: PositiveInt = 1024 * 1024
    #: CSV imports may be larger than any JSON body.
    max_import_bytes: PositiveInt = 16 * 1024 * 1024
    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    session_absolute: dt.timedelta = dt.timedelta(hours=12)
    #: Only write ``last_seen_at`` when it is older than this, to keep reads cheap.
    session_touch_interval: dt.timedelta = dt.timedelta(seconds=60)
    mfa_challenge_ttl: dt.timedelta = dt.timedelta(minutes=5)
    invitation_ttl: dt.timedelta = dt.timedelta(days=7)
    #: Failures per account (any factor) within ``throttle_window`` before a lockout.
    throttle_account_failures: PositiveInt = 10
    #: Failures per client address within ``throttle_window`` before a lockout.
    throttle_address_failures: PositiveInt = 50
    throttle_window: dt.timedelta = dt.timedelta(minutes=15)
    throttle_lockout: dt.timedelta = dt.timedelta(minutes=15)
    #: Consecutive second-factor failures that disable the factor until an admin unlocks it.
    totp_lock_after: PositiveInt = 100
    totp_issuer: str = "exchange-consent"
    #: Argon2id parameters; the floor is OWASP's minimum (19 MiB, 2 passes, 1 lane).
    argon2_memory_kib: Annotated[int, Field(ge=19 * 1024)] = 19 * 1024
    argon2_iterations: Annotated[int, Field(ge=2)] = 2
    argon2_lanes: Annotated[int, Field(ge=1)] = 1

    def check(self) -> None:
        """Raise :class:`ConfigurationError` if these settings are unsafe to serve with."""
        if self.session_idle > self.session_absolute:
            raise ConfigurationError("The idle timeout exceeds the absolute session lifetime.")
        if not self.production:
            return
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if (
            secret.strip().lower() in DEFAULT_SECRETS
            or len(secret) < MIN_SECRET_CHARS
            or len(set(secret)) < 8
        ):
            raise ConfigurationError(
                "Production mode needs a random secret key of at least 32 characters."
            )
        if not self.trusted_hosts or "*" in self.trusted_hosts:
            raise ConfigurationError("Production mode needs an explicit trusted-host list.")
        if "*" in self.cors_origins:
            raise ConfigurationError("Production mode refuses a wildcard CORS origin.")
        if self.docs_enabled:
            raise ConfigurationError("Production mode refuses the interactive docs.")

    def secret_bytes(self) -> bytes:
        if self.secret_key is None:
            raise ConfigurationError("No secret key is configured.")
        return self.secret_key.get_secret_value().encode("utf-8")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``CONSENT_*`` variables. The secret comes from ``CONSENT_API_SECRET`` or
        from the file ``api-secret`` in the data directory (see :func:`load_secret`)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        production = env.get("CONSENT_PRODUCTION", "").strip().lower() in ("1", "true", "yes")
        values["production"] = production
        data_dir = env.get("CONSENT_DATA_DIR")
        if data_dir:
            values["data_dir"] = Path(data_dir)
        if env.get("CONSENT_DATABASE_URL"):
            values["database_url"] = env["CONSENT_DATABASE_URL"]
        if env.get("CONSENT_TRUSTED_HOSTS"):
            values["trusted_hosts"] = _split(env["CONSENT_TRUSTED_HOSTS"])
        if env.get("CONSENT_CORS_ORIGINS"):
            values["cors_origins"] = _split(env["CONSENT_CORS_ORIGINS"])
        if env.get("CONSENT_DOCS", "").strip().lower() in ("1", "true", "yes"):
            values["docs_enabled"] = True
        if env.get("CONSENT_MAX_BODY_BYTES"):
            values["max_body_bytes"] = int(env["CONSENT_MAX_BODY_BYTES"])
        secret = env.get("CONSENT_API_SECRET")
        if secret is None and data_dir:
            secret = load_secret(Path(data_dir), create=not production)
        if secret is not None:
            values["secret_key"] = SecretStr(secret)
        return cls.model_validate(values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def load_secret(data_dir: Path, *, create: bool) -> str | None:
    """Read ``DATA_DIR/api-secret``; with ``create``, make it first if it is missing.

    Creation is exclusive, so several workers starting at once agree on one secret.
    """
    path = data_dir / SECRET_FILE_NAME
    if create and not path.exists():
        # Write a private temporary file, then link it into place: link() fails if the name
        # exists, so a concurrent reader never sees a half-written secret.
        temp = data_dir / f".{SECRET_FILE_NAME}.{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigurationError("The API secret file must not be readable by others.")
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
