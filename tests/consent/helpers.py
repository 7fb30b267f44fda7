"""Building signed statements in tests, the way an advocate's machine would."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import ConsentService, Envelope, PersonRecord, build_payload, sign_envelope

SCOPE_DE_LT: dict[str, Any] = {
    "transfers": ["exchange"],
    "destinations": ["DE", "LT"],
    "accepts_pardon_petition": False,
    "requires_documents_returned": True,
    "requires_family_may_accompany": False,
}


def payload_for(person: PersonRecord, position: str, *, previous: str | None,
                stated_on: dt.date = dt.date(2026, 10, 1), scope: dict[str, Any] | None = None,
                retracts: str | None = None, duress: bool = False,
                today: dt.date = dt.date(2026, 11, 1)) -> bytes:
    if position == "consents" and scope is None:
        scope = SCOPE_DE_LT
    return build_payload(person_id=person.id, commitment=person.commitment, position=position,
                         stated_on=stated_on, channel="lawyer_visit", previous=previous,
                         scope=scope, retracts=retracts, duress_concern=duress,
                         evidence=[{"sha256": "ab" * 32, "kind": "letter"}], today=today)


def latest(service: ConsentService, person: PersonRecord) -> str | None:
    with service.reading() as session:
        return service.persons.get(session, person.id).latest_statement_id


def statement(service: ConsentService, person: PersonRecord, position: str,
              *keys: Ed25519PrivateKey, **kwargs: Any) -> Envelope:
    return sign_envelope(payload_for(person, position, previous=latest(service, person),
                                     **kwargs), *keys)
