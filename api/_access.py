"""Who may call what: role dependencies, and a route class that denies by default.

Every route declares its access rule as a dependency: one of the ``Annotated`` actor aliases
(``AdminActor``, ``AdvocateActor``, ``CompilerActor``, ``AuditorActor``, ``SignedInActor``)
or ``PUBLIC``. :class:`GuardedRoute` finds that rule when the app is built and refuses to
build a route that has none (or two different ones). At request time it applies the rule
*before* the body or the query is parsed, so an anonymous or wrong-role caller learns nothing
from validation errors. Object-level rules (whose key, which person) live in the domain core,
which receives the verified :class:`~consent.Actor` and checks again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api._problems import ProblemError
from api._settings import Settings
from api._signin import SignIn
from consent import ROLES, Actor, ConsentService, Role

__all__ = [
    "PUBLIC",
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
    "Require",
    "Service",
    "SignedInActor",
    "access_rule",
    "public",
]


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    service: ConsentService
    signin: SignIn


def _context(request: Request) -> AppContext:
    ctx = request.app.state.consent
    assert isinstance(ctx, AppContext)
    return ctx


def _service(request: Request) -> ConsentService:
    return _context(request).service


def _clock(request: Request) -> Callable[[], dt.datetime]:
    return _context(request).service.clock


def _client_address(request: Request) -> str:
    """The HMAC of the client address (uvicorn resolves trusted proxies into it)."""
    host = request.client.host if request.client is not None else "unknown"
    return _context(request).signin.address_hash(host)


Context = Annotated[AppContext, Depends(_context)]
Service = Annotated[ConsentService, Depends(_service)]
Clock = Annotated[Callable[[], dt.datetime], Depends(_clock)]
ClientAddress = Annotated[str, Depends(_client_address)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(401, "not_authenticated", "Sign in first.",
                      headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


class Require:
    """A dependency returning the signed-in actor when their role is one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        unknown = set(roles) - set(ROLES)
        if not roles or unknown:
            raise ValueError("Require needs known roles.")
        self.roles = frozenset(roles)

    def __repr__(self) -> str:
        return f"Require({', '.join(sorted(self.roles))})"

    def authorise(self, request: Request) -> Actor:
        actor = getattr(request.state, "actor", None)
        if not isinstance(actor, Actor):
            token = _bearer(request)
            actor = _context(request).signin.authenticate(token)
            request.state.actor, request.state.token = actor, token
        if actor.role not in self.roles:
            raise ProblemError(403, "forbidden", "Your role may not do this.")
        return actor

    def __call__(self, request: Request) -> Actor:
        return self.authorise(request)


def public() -> None:
    """The explicit access rule of a route that needs no sign-in."""


PUBLIC = Depends(public)

AdminActor = Annotated[Actor, Depends(Require("admin"))]
AdvocateActor = Annotated[Actor, Depends(Require("advocate"))]
CompilerActor = Annotated[Actor, Depends(Require("compiler"))]
AuditorActor = Annotated[Actor, Depends(Require("auditor"))]
AdminOrAdvocateActor = Annotated[Actor, Depends(Require("admin", "advocate"))]
SignedInActor = Annotated[Actor, Depends(Require(*ROLES))]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def access_rule(dependant: Dependant) -> Require | None:
    """The one access rule of a route (None for a public one); raise if it has none."""
    rules = {call for call in _calls(dependant) if isinstance(call, Require) or call is public}
    if len(rules) != 1:
        raise RuntimeError("Every route needs exactly one access rule (a role or PUBLIC).")
    (rule,) = rules
    return rule if isinstance(rule, Require) else None


class GuardedRoute(APIRoute):
    """Applies the route's access rule before FastAPI reads the body or the query."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        rule = access_rule(self.dependant)
        if rule is None:
            return handler

        async def guarded(request: Request) -> Response:
            await run_in_threadpool(rule.authorise, request)
            return await handler(request)

        return guarded
