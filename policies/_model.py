"""The facts the eligibility engine judges, and the decision it returns.

All values are frozen, slotted dataclasses that check their own shape on construction, so a
malformed fact fails loudly where it is made instead of quietly changing a decision. The
checks are cheap (types, emptiness, formats); they raise ``PolicyInputError`` naming the
field, never echoing the value.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from enum import StrEnum, unique
from typing import Final, Literal, get_args

from policies._errors import PolicyInputError

__all__ = [
    "Decision",
    "ListContext",
    "Position",
    "Reason",
    "Scope",
    "Signer",
    "StatementFacts",
    "Status",
    "Transfer",
]

Position = Literal["consents", "refuses", "withdraws", "retracts"]
Status = Literal["imprisoned", "released", "deceased", "unknown"]
Transfer = Literal["exchange", "expulsion"]

POSITIONS: Final[frozenset[str]] = frozenset(get_args(Position))
STATUSES: Final[frozenset[str]] = frozenset(get_args(Status))
TRANSFERS: Final[frozenset[str]] = frozenset(get_args(Transfer))
ANY_DESTINATION: Final = "*"

_COUNTRY = re.compile(r"[A-Z]{2}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@unique
class Reason(StrEnum):
    """Why a person is not eligible. Declaration order is the order reasons are reported in."""

    no_statement = "no_statement"
    refused = "refused"
    withdrawn = "withdrawn"
    insufficient_signers = "insufficient_signers"
    stale = "stale"
    out_of_scope = "out_of_scope"
    duress_concern = "duress_concern"
    not_imprisoned = "not_imprisoned"


def _fail(owner: str, field: str, expectation: str) -> PolicyInputError:
    return PolicyInputError(f"{owner}.{field} {expectation}")


def _require_text(owner: str, field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise _fail(owner, field, "must be a non-empty string")


def _require_bool(owner: str, field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(owner, field, "must be a bool")


def _require_date(owner: str, field: str, value: object) -> None:
    # datetime is a subclass of date, and comparing the two raises; accept plain dates only.
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise _fail(owner, field, "must be a datetime.date (not a datetime)")


def is_country_code(value: object) -> bool:
    """True for an upper-case ISO 3166-1 alpha-2 shaped code (two ASCII letters)."""
    return isinstance(value, str) and _COUNTRY.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Signer:
    """One verified signer of a statement.

    The caller has already verified the signature and the key's approval and revocation.
    Several keys of one advocate count once: signers are counted by distinct ``advocate_id``.
    """

    advocate_id: str
    organisation_id: str

    def __post_init__(self) -> None:
        _require_text("Signer", "advocate_id", self.advocate_id)
        _require_text("Signer", "organisation_id", self.organisation_id)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a consent agrees to. ``destinations`` is country codes, or exactly ``{"*"}``."""

    transfers: frozenset[str]
    destinations: frozenset[str]
    accepts_pardon_petition: bool
    requires_documents_returned: bool
    requires_family_may_accompany: bool

    def __post_init__(self) -> None:
        if (
            not isinstance(self.transfers, frozenset)
            or not self.transfers
            or not self.transfers <= TRANSFERS
        ):
            raise _fail("Scope", "transfers", "must be a non-empty frozenset of known transfers")
        if not isinstance(self.destinations, frozenset) or not self.destinations:
            raise _fail("Scope", "destinations", "must be a non-empty frozenset")
        if self.destinations != frozenset({ANY_DESTINATION}) and not all(
            is_country_code(code) for code in self.destinations
        ):
            raise _fail(
                "Scope", "destinations", 'must be upper-case alpha-2 country codes or exactly {"*"}'
            )
        _require_bool("Scope", "accepts_pardon_petition", self.accepts_pardon_petition)
        _require_bool("Scope", "requires_documents_returned", self.requires_documents_returned)
        _require_bool("Scope", "requires_family_may_accompany", self.requires_family_may_accompany)


@dataclass(frozen=True, slots=True)
class StatementFacts:
    """A person's statement, reduced to what eligibility needs.

    ``signers`` holds only verified signers and is never empty: a statement none of whose
    signatures verify must not be handed to the engine at all (DESIGN §6 ignores it).
    ``scope`` is present exactly on consents, ``retracts`` exactly on retractions.
    """

    statement_id: str
    position: Position
    stated_on: datetime.date
    scope: Scope | None
    duress_concern: bool
    retracts: str | None
    signers: frozenset[Signer]

    def __post_init__(self) -> None:
        _require_text("StatementFacts", "statement_id", self.statement_id)
        if self.position not in POSITIONS:
            raise _fail(
                "StatementFacts", "position", "must be one of " + ", ".join(sorted(POSITIONS))
            )
        _require_date("StatementFacts", "stated_on", self.stated_on)
        if self.position == "consents":
            if not isinstance(self.scope, Scope):
                raise _fail("StatementFacts", "scope", "must be a Scope on a consent")
        elif self.scope is not None:
            raise _fail("StatementFacts", "scope", "must be None unless the position is consents")
        _require_bool("StatementFacts", "duress_concern", self.duress_concern)
        if self.position == "retracts":
            _require_text("StatementFacts", "retracts", self.retracts)
        elif self.retracts is not None:
            raise _fail(
                "StatementFacts", "retracts", "must be None unless the position is retracts"
            )
        if (
            not isinstance(self.signers, frozenset)
            or not self.signers
            or not all(isinstance(signer, Signer) for signer in self.signers)
        ):
            raise _fail("StatementFacts", "signers", "must be a non-empty frozenset of Signer")


@dataclass(frozen=True, slots=True)
class ListContext:
    """The deal a compiler is building (DESIGN §6); ``as_of`` is passed to ``evaluate``."""

    transfer: Transfer
    destination: str
    requires_pardon_petition: bool
    documents_returned: bool
    family_may_accompany: bool

    def __post_init__(self) -> None:
        if self.transfer not in TRANSFERS:
            raise _fail("ListContext", "transfer", "must be one of " + ", ".join(sorted(TRANSFERS)))
        if not is_country_code(self.destination):
            raise _fail("ListContext", "destination", "must be an upper-case alpha-2 country code")
        _require_bool("ListContext", "requires_pardon_petition", self.requires_pardon_petition)
        _require_bool("ListContext", "documents_returned", self.documents_returned)
        _require_bool("ListContext", "family_may_accompany", self.family_may_accompany)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one person. ``eligible`` is true exactly when ``reasons`` is empty."""

    eligible: bool
    reasons: tuple[Reason, ...]
    deciding_statement_id: str | None
    policy_id: str
    policy_sha256: str

    def __post_init__(self) -> None:
        _require_bool("Decision", "eligible", self.eligible)
        if not isinstance(self.reasons, tuple) or not all(
            isinstance(reason, Reason) for reason in self.reasons
        ):
            raise _fail("Decision", "reasons", "must be a tuple of Reason")
        if len(set(self.reasons)) != len(self.reasons):
            raise _fail("Decision", "reasons", "must not repeat a reason")
        if self.eligible == bool(self.reasons):
            raise _fail("Decision", "eligible", "must be true exactly when reasons is empty")
        if self.deciding_statement_id is not None:
            _require_text("Decision", "deciding_statement_id", self.deciding_statement_id)
        elif self.eligible:
            raise _fail("Decision", "deciding_statement_id", "must name the consent when eligible")
        _require_text("Decision", "policy_id", self.policy_id)
        if not isinstance(self.policy_sha256, str) or not _SHA256_HEX.fullmatch(self.policy_sha256):
            raise _fail("Decision", "policy_sha256", "must be 64 lower-case hex digits")
