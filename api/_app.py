"""The application factory."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import compile_path

from api import _routes_admin, _routes_advocate, _routes_audit, _routes_auth, _routes_compiler
from api._access import PUBLIC, AppContext, GuardedRoute, access_rule
from api._middleware import Hardening
from api._models import ProblemPublic
from api._passwords import PasswordHasher
from api._problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from api._settings import Settings
from api._signin import SignIn
from consent import ConfigurationError, ConsentService

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
_log = logging.getLogger("consent.api")

#: Every error, whatever its status, is a problem document; "default" also stands in for
#: FastAPI's own 422 entry, which would wrongly say application/json.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "An RFC 9457 problem document (any error status).",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemPublic.model_json_schema()}},
    },
}


def _health_router() -> APIRouter:
    router = APIRouter(route_class=GuardedRoute, tags=["health"])

    @router.get("/healthz", dependencies=[PUBLIC])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return router


def create_app(settings: Settings, service: ConsentService, *,
               hasher: PasswordHasher | None = None) -> FastAPI:
    """Build the HTTP service over an opened :class:`~consent.ConsentService`.

    Refuses (``ConfigurationError``) settings that are unsafe in production. Time comes
    from ``service.clock``.
    """
    settings.check()
    if settings.secret_key is not None:
        secret = settings.secret_bytes()
    else:
        # Development only (check() refuses this in production): throttle keys and address
        # hashes are then per process, so several workers would not share their counts.
        _log.warning("no API secret configured; using a per-process random one")
        secret = secrets.token_bytes(32)
    hasher = hasher or PasswordHasher(memory_kib=settings.argon2_memory_kib,
                                      iterations=settings.argon2_iterations,
                                      lanes=settings.argon2_lanes)
    docs = settings.docs_enabled
    app = FastAPI(
        title="exchange-consent",
        version="1",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.consent = AppContext(settings, service, SignIn(service, settings, hasher, secret))
    install_problem_handlers(app)

    v1 = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute, responses=PROBLEM_RESPONSES)
    allow: list[tuple[re.Pattern[str], frozenset[str]]] = []
    for router in (_health_router(), _routes_auth.router, _routes_admin.router,
                   _routes_advocate.router, _routes_compiler.router, _routes_audit.router):
        for route in router.routes:
            if not isinstance(route, GuardedRoute):
                raise ConfigurationError("Every API route must be a GuardedRoute.")
            access_rule(route.dependant)  # raises unless exactly one access rule
            allow.append((compile_path(API_PREFIX + route.path)[0],
                          frozenset(route.methods or ())))
        v1.include_router(router)
    app.include_router(v1)
    app.state.allow = tuple(allow)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"],
                           allow_credentials=False, max_age=600)
    app.add_middleware(Hardening, trusted_hosts=settings.trusted_hosts,
                       max_body_bytes=settings.max_body_bytes,
                       body_limits={_routes_advocate.IMPORT_PATH: settings.max_import_bytes},
                       docs_paths={"/docs"} if docs else set())
    return app
