"""exchange-consent HTTP API: a thin FastAPI shell over :class:`consent.ConsentService`.

``create_app(settings, service)`` builds the application; ``api.app:factory`` is the entry
point for ``uvicorn --factory``. Sign-in is a password (Argon2id) then a TOTP code or a
single-use recovery code; sessions are opaque bearer tokens stored hashed. Every error is an
RFC 9457 problem document (``api._problems``).
"""

from api._access import (
    PUBLIC,
    AdminActor,
    AdminOrAdvocateActor,
    AdvocateActor,
    AppContext,
    AuditorActor,
    ClientAddress,
    Clock,
    CompilerActor,
    Context,
    GuardedRoute,
    Require,
    Service,
    SignedInActor,
)
from api._app import API_PREFIX, create_app
from api._middleware import SECURITY_HEADERS
from api._passwords import PasswordHasher, WeakPasswordError, check_password_policy
from api._problems import PROBLEM_MEDIA_TYPE, ProblemError
from api._settings import Settings, load_secret
from api._signin import SignIn
from api._totp import code_at, provisioning_uri, step_at

__all__ = [
    "API_PREFIX",
    "PROBLEM_MEDIA_TYPE",
    "PUBLIC",
    "SECURITY_HEADERS",
    "AdminActor",
    "AdminOrAdvocateActor",
    "AdvocateActor",
    "AppContext",
    "AuditorActor",
    "ClientAddress",
    "Clock",
    "CompilerActor",
    "Context",
    "GuardedRoute",
    "PasswordHasher",
    "ProblemError",
    "Require",
    "Service",
    "Settings",
    "SignIn",
    "SignedInActor",
    "WeakPasswordError",
    "check_password_policy",
    "code_at",
    "create_app",
    "load_secret",
    "provisioning_uri",
    "step_at",
]
