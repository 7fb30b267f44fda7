"""Advocate routes: persons, statements, signatures, the advocate's own keys.

Ownership is checked by the core with the verified actor: a signature counts only with the
signer's own approved key, and a key is registered to the caller and nobody else.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api._access import AdminOrAdvocateActor, AdvocateActor, GuardedRoute, Service
from api._convert import key_public, person_public, statement_public
from api._models import (
    DecisionPublic,
    EnvelopeCreate,
    ImportPublic,
    KeyCreate,
    KeyPublic,
    ListContextQuery,
    PersonCreate,
    PersonPublic,
    ReceiptPublic,
    SignatureCreate,
    StatementPublic,
)
from api._problems import ProblemError
from consent import Envelope, Signature

__all__ = ["IMPORT_PATH", "router"]

IMPORT_PATH = "/v1/persons/import"

router = APIRouter(tags=["advocate"], route_class=GuardedRoute)

# The uuid convertor keeps /persons/import from matching GET /persons/{person_id}, so a 405
# there lists POST only; a path that is not a UUID matches no route at all.
PersonId = Annotated[uuid.UUID, Path()]
StatementId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


@router.post("/persons", status_code=201)
def register_person(body: PersonCreate, actor: AdvocateActor, service: Service) -> PersonPublic:
    return person_public(service.register_person(
        actor, full_name=body.full_name,
        birth_date=body.birth_date.isoformat() if body.birth_date else None,
        aliases=list(body.aliases), location=body.location, status=body.status))


@router.post("/persons/import", openapi_extra={"requestBody": {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}}},
}})
async def import_persons(request: Request, actor: AdvocateActor,
                         service: Service) -> ImportPublic:
    """A CSV file (``text/csv``), all or nothing; a refusal lists every bad row."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise ProblemError(415, "unsupported_media_type", "Send the import as text/csv.")
    data = await request.body()
    report = await run_in_threadpool(service.import_persons, actor, data)
    return ImportPublic(added=report.added, already_present=report.already_present)


@router.get("/persons")
def find_persons(name: Annotated[str, Query(min_length=1, max_length=200)],
                 actor: AdvocateActor, service: Service) -> list[PersonPublic]:
    """Name search through the blind index (case, diacritics and script folded)."""
    return [person_public(p) for p in service.find_persons(actor, name)]


@router.get("/persons/{person_id:uuid}")
def get_person(person_id: PersonId, actor: AdvocateActor, service: Service) -> PersonPublic:
    return person_public(service.get_person(actor, str(person_id)))


@router.get("/persons/{person_id:uuid}/statements")
def statements_of(person_id: PersonId, actor: AdvocateActor,
                  service: Service) -> list[StatementPublic]:
    return [statement_public(s) for s in service.statements_of(actor, str(person_id))]


@router.get("/persons/{person_id:uuid}/eligibility")
def eligibility(person_id: PersonId, context: Annotated[ListContextQuery, Query()],
                actor: AdminOrAdvocateActor, service: Service) -> DecisionPublic:
    """The current decision with its reasons (for advocates and admins, never compilers)."""
    decision = service.decision(actor, str(person_id), context.to_domain(), context.as_of)
    return DecisionPublic(person_id=str(person_id), eligible=decision.eligible,
                          reasons=[str(r) for r in decision.reasons],
                          deciding_statement_id=decision.deciding_statement_id,
                          policy_id=decision.policy_id, policy_sha256=decision.policy_sha256)


@router.post("/keys", status_code=201)
def register_key(body: KeyCreate, actor: AdvocateActor, service: Service) -> KeyPublic:
    """Register the caller's own Ed25519 public key; usable once an admin approves it."""
    try:
        raw = base64.b64decode(body.public_key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProblemError(422, "invalid_public_key",
                      "The public key must be standard base64 of 32 bytes.") from None
    return key_public(service.register_key(actor, raw))


@router.post("/statements", status_code=201)
def record_statement(body: EnvelopeCreate, actor: AdvocateActor,
                     service: Service) -> ReceiptPublic:
    envelope = Envelope.from_json(body.model_dump(mode="json"))
    receipt = service.record_statement(actor, envelope)
    return ReceiptPublic(statement_id=receipt.statement_id, log_index=receipt.log_index,
                         receipt=receipt.receipt)


@router.post("/statements/{statement_id}/signatures", status_code=201)
def add_signature(statement_id: StatementId, body: SignatureCreate, actor: AdvocateActor,
                  service: Service) -> ReceiptPublic:
    """A corroboration: one more signature, by the caller's own key, over the same PAE."""
    signature = Signature.from_json(body.model_dump(mode="json"))
    receipt = service.add_signature(actor, statement_id, signature)
    return ReceiptPublic(statement_id=receipt.statement_id, log_index=receipt.log_index,
                         receipt=receipt.receipt)
