"""The transparency log over HTTP.

Public (witnesses and receipt holders need them; they reveal only sizes and hashes): the
checkpoint, the verifier key, consistency proofs. Auditors: the entries and inclusion
proofs. Hashes are standard base64, in RFC 9162 order.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from api._access import PUBLIC, AuditorActor, GuardedRoute, Service
from api._models import ConsistencyProofPublic, EntriesPublic, InclusionProofPublic

__all__ = ["JSONL_MEDIA_TYPE", "router"]

JSONL_MEDIA_TYPE = "application/jsonl"

router = APIRouter(prefix="/audit", tags=["audit"], route_class=GuardedRoute)

Index = Annotated[int, Field(ge=0, le=2**62)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntriesQuery(_Query):
    start: Index
    end: Index


class InclusionQuery(_Query):
    index: Index
    size: Index


class ConsistencyQuery(_Query):
    first: Annotated[int, Field(ge=1, le=2**62)]
    second: Index


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode("ascii") for item in items]


@router.get("/checkpoint", dependencies=[PUBLIC], response_class=PlainTextResponse)
def checkpoint(service: Service) -> PlainTextResponse:
    """The latest checkpoint: a C2SP signed note, verbatim."""
    return PlainTextResponse(service.checkpoint())


@router.get("/key", dependencies=[PUBLIC], response_class=PlainTextResponse)
def verifier_key(service: Service) -> PlainTextResponse:
    """The log's verifier key, ``<name>+<hex key id>+<base64(0x01 || key)>``."""
    return PlainTextResponse(service.vkey() + "\n")


@router.get("/proof/consistency", dependencies=[PUBLIC])
def consistency_proof(query: Annotated[ConsistencyQuery, Query()],
                      service: Service) -> ConsistencyProofPublic:
    hashes = service.consistency_proof(query.first, query.second)
    return ConsistencyProofPublic(first=query.first, second=query.second, hashes=_b64(hashes))


@router.get("/entries", response_model=EntriesPublic, responses={200: {"content": {
    JSONL_MEDIA_TYPE: {"schema": {"type": "string"}}}}})
def entries(query: Annotated[EntriesQuery, Query()], request: Request, actor: AuditorActor,
            service: Service) -> Response | EntriesPublic:
    """The exact leaf bytes of entries [start, end): JSON with standard base64 by default,
    or, with ``Accept: application/jsonl``, the leaves themselves one a line."""
    leaves = list(service.entries(actor, query.start, query.end))
    if JSONL_MEDIA_TYPE in request.headers.get("accept", ""):
        return Response(b"".join(leaf + b"\n" for leaf in leaves), media_type=JSONL_MEDIA_TYPE)
    return EntriesPublic(start=query.start, end=query.end, entries=_b64(leaves))


@router.get("/proof/inclusion")
def inclusion_proof(query: Annotated[InclusionQuery, Query()], actor: AuditorActor,
                    service: Service) -> InclusionProofPublic:
    hashes = service.inclusion_proof(actor, query.index, query.size)
    return InclusionProofPublic(index=query.index, size=query.size, hashes=_b64(hashes))
