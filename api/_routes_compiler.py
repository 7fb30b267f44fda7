"""Compiler routes. Principle 1 of DESIGN section 3, seen from outside:

* ``/lists/eligible`` returns eligible persons only: no reasons, no totals, nothing about
  anyone else.
* ``/lists/vet`` answers ``[{"eligible": bool}]`` in order. A refusal, an unknown person, a
  malformed candidate and any other ineligibility give the same ``{"eligible": false}``,
  with the same status and the same bytes: candidates are not validated into a 422.
* Every call is a log entry naming the compiler, the context, the policy hash and the
  SHA-256 of the result. The response body *is* the RFC 8785 encoding of that result, so
  ``sha256(body)`` equals the logged ``result_sha256``.

``POST /lists/manifest`` (a signed manifest; a fresh TOTP code required) belongs here; it
comes with its own issue and is not served yet.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api._access import CompilerActor, GuardedRoute, Service
from api._models import CandidateResult, EligiblePerson, ListRequest, VetRequest
from consent import canonical_bytes

__all__ = ["router"]

router = APIRouter(prefix="/lists", tags=["compiler"], route_class=GuardedRoute)


def _canonical(value: object) -> Response:
    return Response(canonical_bytes(value), media_type="application/json")


@router.post("/eligible", response_model=list[EligiblePerson])
def eligible(body: ListRequest, actor: CompilerActor, service: Service) -> Response:
    result = service.eligible(actor, body.context.to_domain(), body.context.as_of)
    return _canonical(result)


@router.post("/vet", response_model=list[CandidateResult])
def vet(body: VetRequest, actor: CompilerActor, service: Service) -> Response:
    answers = service.vet(actor, body.context.to_domain(), body.candidates,
                          body.context.as_of)
    return _canonical([{"eligible": bool(a)} for a in answers])
