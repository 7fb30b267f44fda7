"""The ASGI entry point for ``uvicorn --factory api.app:factory`` (and ``consent serve``).

Settings come from the environment (``CONSENT_DATA_DIR``, ``CONSENT_DATABASE_URL``,
``CONSENT_PRODUCTION``, ``CONSENT_API_SECRET``, ``CONSENT_TRUSTED_HOSTS``,
``CONSENT_CORS_ORIGINS``, ``CONSENT_DOCS``, ``CONSENT_MAX_BODY_BYTES``). Each worker process
calls :func:`factory` once; the workers share state only through the database.
"""

from __future__ import annotations

from fastapi import FastAPI

from api._app import create_app
from api._settings import Settings
from consent import ConfigurationError, open_instance

__all__ = ["factory"]


def factory() -> FastAPI:
    settings = Settings.from_env()
    settings.check()
    if settings.data_dir is None:
        raise ConfigurationError("Set CONSENT_DATA_DIR to the instance's data directory.")
    return create_app(settings, open_instance(settings.data_dir))
