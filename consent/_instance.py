"""An instance on disk: the data directory, its configuration, keys and database.

Layout of ``DIR``::

    DIR/config.json          origin and (optionally) database URL; no secrets
    DIR/consent.sqlite3      the embedded database (when no URL is configured)
    DIR/keys/                0700; log signing key, data-key ring, blind-index key (0600)

``CONSENT_DATABASE_URL`` overrides the configured database; ``CONSENT_<KEY>`` variables
may carry keys instead of files (see ``_keyfiles``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from audit import Signer
from consent._db import Database, ensure_private_dir, migrate, sqlite_url
from consent._errors import ConfigurationError
from consent._keyfiles import ServerKeys
from consent._keyfiles import rotate_data_key as _append_data_key
from consent._service import ConsentService, utcnow

__all__ = ["init_instance", "open_instance", "rotate_data_key"]

CONFIG = "config.json"
DATABASE_FILE = "consent.sqlite3"


def _database_url(data_dir: Path, config: Mapping[str, object], env: Mapping[str, str]) -> str:
    url = env.get("CONSENT_DATABASE_URL") or config.get("database_url")
    if url:
        return str(url)
    return sqlite_url(data_dir / DATABASE_FILE)


def _service(data_dir: Path, keys: ServerKeys, origin: str, url: str,
             clock: Callable[..., object] | None) -> ConsentService:
    return ConsentService(
        Database(url),
        data_keys=keys.data_keys,
        blind_index_key=keys.blind_index_key,
        log_signer=Signer(origin, keys.log_signing_key),
        origin=origin,
        clock=clock or utcnow,  # type: ignore[arg-type]
    )


def init_instance(data_dir: Path, *, origin: str | None = None,
                  database_url: str | None = None, admin_username: str = "admin",
                  env: Mapping[str, str] = os.environ) -> tuple[ConsentService, str]:
    """Create a new instance. Returns the service and the single-use admin invitation."""
    data_dir = Path(data_dir)
    if (data_dir / CONFIG).exists():
        raise ConfigurationError("This directory already holds an instance.")
    ensure_private_dir(data_dir)
    chosen_origin = origin or f"consent.local/{secrets.token_hex(4)}"
    config = {"origin": chosen_origin, "database_url": database_url}
    keys = ServerKeys.create(data_dir)
    url = _database_url(data_dir, config, env)
    service = _service(data_dir, keys, chosen_origin, url, None)
    migrate(service.db)
    token = service.initialise(admin_username)
    tmp = data_dir / (CONFIG + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, data_dir / CONFIG)
    return service, token


def open_instance(data_dir: Path, *, env: Mapping[str, str] = os.environ,
                  clock: Callable[..., object] | None = None) -> ConsentService:
    data_dir = Path(data_dir)
    try:
        config = json.loads((data_dir / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError("No instance here: run 'consent init' first.") from exc
    origin = config.get("origin")
    if not isinstance(origin, str) or not origin:
        raise ConfigurationError("The instance configuration has no log origin.")
    keys = ServerKeys.load(data_dir, env=env)
    return _service(data_dir, keys, origin, _database_url(data_dir, config, env), clock)


def rotate_data_key(data_dir: Path, *, env: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """Add a new data key to the ring, then re-encrypt every row under it (logged).

    Returns the new key id and the number of values re-encrypted.
    """
    new_key = _append_data_key(Path(data_dir), env=env)
    service = open_instance(Path(data_dir), env=env)
    try:
        return new_key.key_id, service.reencrypt_at_rest(None)
    finally:
        service.db.dispose()
