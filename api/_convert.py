"""From domain records to response models (and never from table rows)."""

from __future__ import annotations

from api._models import (
    KeyPublic,
    OrganisationPublic,
    PersonPublic,
    SignaturePublic,
    StatementPublic,
    UserPublic,
)
from consent import KeyRecord, OrganisationRecord, PersonRecord, StoredStatement, UserRecord
from consent._envelope import b64encode

__all__ = ["key_public", "organisation_public", "person_public", "statement_public",
           "user_public"]


def organisation_public(record: OrganisationRecord) -> OrganisationPublic:
    return OrganisationPublic(id=record.id, name=record.name, created_at=record.created_at)


def user_public(record: UserRecord) -> UserPublic:
    return UserPublic(id=record.id, username=record.username,
                      role=record.role,
                      organisation_id=record.organisation_id, disabled=record.disabled,
                      enrolled=record.enrolled)


def key_public(record: KeyRecord) -> KeyPublic:
    return KeyPublic(key_id=record.key_id, user_id=record.user_id,
                     public_key=b64encode(record.public_key),
                     state=record.state,
                     registered_at=record.registered_at, approved_at=record.approved_at,
                     revoked_at=record.revoked_at)


def person_public(record: PersonRecord) -> PersonPublic:
    identity = record.identity
    return PersonPublic(id=record.id, full_name=identity.full_name,
                        birth_date=identity.birth_date, aliases=list(identity.aliases),
                        location=identity.location, status=record.status,
                        commitment=record.commitment,
                        latest_statement_id=record.latest_statement_id)


def statement_public(stored: StoredStatement) -> StatementPublic:
    return StatementPublic(
        statement_id=stored.statement_id, person_id=stored.person_id,
        position=stored.position, stated_on=stored.stated_on, previous=stored.previous,
        retracts=stored.retracts, log_index=stored.log_index, recorded_at=stored.recorded_at,
        envelope=stored.envelope().to_json(),
        signatures=[SignaturePublic(keyid=s.key_id, sig=b64encode(s.sig),
                                    signer_user_id=s.signer_user_id,
                                    signer_organisation_id=s.signer_organisation_id,
                                    log_index=s.log_index, recorded_at=s.recorded_at)
                    for s in stored.signatures])
