"""Request and response models. They are never table models.

Naming follows a Base / Create / Public split: ``…Create`` (or ``…Request``) is what a
client may send, ``…Public`` what it gets back. Every request model refuses unknown members
(``extra='forbid'``) and is strict about types, so nothing is mass-assigned or coerced.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from policies import ListContext

__all__ = [
    "AccessToken",
    "CandidateResult",
    "ConsistencyProofPublic",
    "DecisionPublic",
    "EligiblePerson",
    "EnrolCode",
    "EnrolRequest",
    "EnrolStarted",
    "EntriesPublic",
    "EnvelopeCreate",
    "ImportPublic",
    "InclusionProofPublic",
    "InvitationPublic",
    "IsoDate",
    "KeyCreate",
    "KeyPublic",
    "ListContextIn",
    "ListContextQuery",
    "ListRequest",
    "LoginRequest",
    "MfaChallengePublic",
    "OrganisationCreate",
    "OrganisationPublic",
    "PersonCreate",
    "PersonPublic",
    "PolicyActivate",
    "PolicyPublic",
    "ProblemPublic",
    "ReceiptPublic",
    "RecoveryCodeRequest",
    "RecoveryCodesPublic",
    "SecondFactorRequest",
    "SignatureCreate",
    "SignaturePublic",
    "StatementPublic",
    "TotpCodeRequest",
    "UserCreate",
    "UserPublic",
    "VetRequest",
]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    """JSON has no date type: accept exactly ``YYYY-MM-DD`` text (and nothing looser, such
    as the numbers pydantic's lax mode would take); anything else fails strict validation."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


#: A calendar date written ``YYYY-MM-DD``, in strict models too.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Uuid = Annotated[str, StringConstraints(min_length=36, max_length=36)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Role = Literal["admin", "advocate", "compiler", "auditor"]
Status = Literal["imprisoned", "released", "deceased", "unknown"]


class Strict(BaseModel):
    """Base of every request model."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Public(BaseModel):
    """Base of every response model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProblemPublic(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    title: str
    status: int
    detail: str
    code: str
    rule: str | None = None
    errors: list[dict[str, Any]] | None = None


# -- auth ---------------------------------------------------------------------------------

class LoginRequest(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class MfaChallengePublic(Public):
    mfa_token: str


class TotpCodeRequest(Strict):
    mfa_token: Secret
    code: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class RecoveryCodeRequest(Strict):
    mfa_token: Secret
    recovery_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


#: Exactly one second factor: a TOTP code or a recovery code, never both, never neither.
SecondFactorRequest = TotpCodeRequest | RecoveryCodeRequest


class AccessToken(Public):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - RFC 6750 token type
    expires_in: int


class EnrolRequest(Strict):
    invitation: Secret
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class EnrolStarted(Public):
    username: str
    otpauth_uri: str
    secret: str


class EnrolCode(Strict):
    invitation: Secret
    code: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class RecoveryCodesPublic(Public):
    recovery_codes: list[str]


# -- admin --------------------------------------------------------------------------------

class OrganisationCreate(Strict):
    name: Text


class OrganisationPublic(Public):
    id: str
    name: str
    created_at: dt.datetime


class UserBase(BaseModel):
    username: str
    role: Role
    organisation_id: str | None = None


class UserCreate(UserBase, Strict):
    username: Annotated[str, StringConstraints(min_length=3, max_length=64)]


class UserPublic(UserBase, Public):
    id: str
    disabled: bool
    enrolled: bool


class InvitationPublic(Public):
    user: UserPublic
    invitation: str


class PolicyActivate(Strict):
    """A policy document (TOML text)."""

    document: Annotated[str, StringConstraints(min_length=1, max_length=64 * 1024)]


class PolicyPublic(Public):
    id: str
    version: int
    sha256: str


# -- keys ---------------------------------------------------------------------------------

class KeyCreate(Strict):
    """The raw 32-byte Ed25519 public key, standard base64."""

    public_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]


class KeyPublic(Public):
    key_id: str
    user_id: str
    public_key: str
    state: Literal["pending", "approved", "revoked"]
    registered_at: dt.datetime
    approved_at: dt.datetime | None
    revoked_at: dt.datetime | None


# -- persons and statements ----------------------------------------------------------------

class PersonBase(BaseModel):
    full_name: str
    birth_date: dt.date | None = None
    aliases: list[str] = Field(default_factory=list)
    location: str | None = None
    status: Status = "imprisoned"


class PersonCreate(PersonBase, Strict):
    full_name: Text
    birth_date: IsoDate | None = None
    aliases: Annotated[list[Text], Field(max_length=10)] = Field(default_factory=list)
    location: Text | None = None


class PersonPublic(PersonBase, Public):
    id: str
    commitment: str
    latest_statement_id: str | None


class ImportPublic(Public):
    added: int
    already_present: int


class SignatureCreate(Strict):
    keyid: Hex64
    sig: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]


class EnvelopeCreate(Strict):
    """A DSSE envelope."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              populate_by_name=False)

    payloadType: Literal[  # noqa: N815 - the DSSE member name
        "application/vnd.exchange-consent.statement.v1+json"]
    payload: Annotated[str, StringConstraints(min_length=1, max_length=128 * 1024)]
    signatures: Annotated[list[SignatureCreate], Field(min_length=1, max_length=32)]


class SignaturePublic(Public):
    keyid: str
    sig: str
    signer_user_id: str
    signer_organisation_id: str
    log_index: int
    recorded_at: dt.datetime


class StatementPublic(Public):
    statement_id: str
    person_id: str
    position: str
    stated_on: dt.date
    previous: str | None
    retracts: str | None
    log_index: int
    recorded_at: dt.datetime
    envelope: dict[str, Any]
    signatures: list[SignaturePublic]


class ReceiptPublic(Public):
    statement_id: str
    log_index: int
    receipt: str


# -- eligibility --------------------------------------------------------------------------

class ListContextBase(BaseModel):
    transfer: Literal["exchange", "expulsion"]
    destination: Country
    requires_pardon_petition: bool
    documents_returned: bool
    family_may_accompany: bool
    as_of: dt.date | None = None

    def to_domain(self) -> ListContext:
        return ListContext(
            transfer=self.transfer,
            destination=self.destination,
            requires_pardon_petition=self.requires_pardon_petition,
            documents_returned=self.documents_returned,
            family_may_accompany=self.family_may_accompany,
        )


class ListContextIn(ListContextBase, Strict):
    """A list context in a JSON body: every member explicit, nothing assumed."""

    as_of: IsoDate | None = None


class ListContextQuery(ListContextBase):
    """A list context in a query string (``?transfer=exchange&destination=DE&…``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionPublic(Public):
    person_id: str
    eligible: bool
    reasons: list[str]
    deciding_statement_id: str | None
    policy_id: str
    policy_sha256: str


class ListRequest(Strict):
    context: ListContextIn


class VetRequest(Strict):
    """Candidates are taken as they come: a malformed one is simply not eligible, with the
    same answer as any other ineligible one (so there is nothing to learn from a 422)."""

    context: ListContextIn
    candidates: Annotated[list[Any], Field(max_length=5000)]


class ManifestRequest(Strict):
    """The persons to list (the core refuses the whole request if any is not eligible) and a
    fresh authenticator code: a manifest is the one compiler answer that leaves the building
    with names in it."""

    context: ListContextIn
    person_ids: Annotated[list[Annotated[str, Field(max_length=64)]],
                          Field(min_length=1, max_length=500)]
    code: Annotated[str, Field(min_length=6, max_length=8, pattern=r"^[0-9]+$")]


class EligiblePerson(Public):
    person_id: str
    full_name: str
    birth_date: dt.date | None


class CandidateResult(Public):
    eligible: bool


# -- audit --------------------------------------------------------------------------------

class EntriesPublic(Public):
    start: int
    end: int
    entries: list[str]


class InclusionProofPublic(Public):
    index: int
    size: int
    hashes: list[str]


class ConsistencyProofPublic(Public):
    first: int
    second: int
    hashes: list[str]
