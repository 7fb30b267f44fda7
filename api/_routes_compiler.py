"""Compiler routes. Principle 1 of DESIGN section 3, seen from outside:

* ``/lists/eligible`` returns eligible persons only: no reasons, no totals, nothing about
  anyone else.
* ``/lists/vet`` answers ``[{"eligible": bool}]`` in order. A refusal, an unknown person, a
  malformed candidate and any other ineligibility give the same ``{"eligible": false}``,
  with the same status and the same bytes: candidates are not validated into a 422.
* Every call is a log entry naming the compiler, the context, the policy hash and the
  SHA-256 of the result. The response body *is* the RFC 8785 encoding of that result, so
  ``sha256(body)`` equals the logged ``result_sha256``.

* ``/lists/manifest`` returns a signed manifest (docs/MANIFEST.md) for persons who are all
  eligible, and needs a fresh TOTP code with the request. It is refused as a whole with one
  fixed message that says neither who nor why.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Response

from api._access import ClientAddress, CompilerActor, Context, GuardedRoute, Service
from api._models import (
    CandidateResult,
    EligiblePerson,
    ListRequest,
    ManifestRequest,
    VetRequest,
)
from consent import canonical_bytes
from consent._blindindex import normalise_name

__all__ = ["router"]

router = APIRouter(prefix="/lists", tags=["compiler"], route_class=GuardedRoute)


def _canonical(value: object) -> Response:
    return Response(canonical_bytes(value), media_type="application/json")


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: What a candidate that cannot name anybody becomes: the core resolves it to no one.
_NOBODY: dict[str, Any] = {}


def _date_ok(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or _DATE.fullmatch(value) is None:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def screen_candidate(candidate: Any) -> Any:
    """Pass on only the two shapes DESIGN names, well formed; anything else becomes a
    candidate that resolves to nobody, so it is answered ``false`` like any other 'no'
    instead of failing the whole request (which would tell it apart)."""
    if not isinstance(candidate, dict):
        return _NOBODY
    keys = set(candidate)
    if keys == {"person_id"}:
        person_id = candidate["person_id"]
        return candidate if isinstance(person_id, str) and len(person_id) <= 64 else _NOBODY
    if keys in ({"full_name", "birth_date"}, {"full_name"}):
        name = candidate["full_name"]
        if (isinstance(name, str) and 0 < len(name) <= 200 and normalise_name(name)
                and _date_ok(candidate.get("birth_date"))):
            return candidate
    return _NOBODY


@router.post("/eligible", response_model=list[EligiblePerson])
def eligible(body: ListRequest, actor: CompilerActor, service: Service) -> Response:
    result = service.eligible(actor, body.context.to_domain(), body.context.as_of)
    return _canonical(result)


@router.post("/vet", response_model=list[CandidateResult])
def vet(body: VetRequest, actor: CompilerActor, service: Service) -> Response:
    candidates = [screen_candidate(c) for c in body.candidates]
    answers = service.vet(actor, body.context.to_domain(), candidates, body.context.as_of)
    return _canonical([{"eligible": bool(a)} for a in answers])


@router.post("/manifest", responses={200: {"content": {"application/json": {}},
                                           "description": "A signed manifest (DSSE)."}})
def manifest(body: ManifestRequest, actor: CompilerActor, service: Service, ctx: Context,
             address: ClientAddress) -> Response:
    ctx.signin.step_up(actor.user_id, body.code, address)
    built = service.manifest(actor, body.context.to_domain(), body.person_ids,
                             body.context.as_of)
    return Response(built.data, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="manifest.json"'})
