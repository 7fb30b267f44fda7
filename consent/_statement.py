"""The statement payload (DESIGN section 5): strict validation into an immutable value.

A :class:`StatementPayload` can only be built by :func:`parse_statement_payload`, which
refuses anything the schema does not name. Each refusal is an :class:`InvalidStatement`
with a stable ``code``; messages name the rule, never the submitted value.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast

from consent._canonical import canonical_bytes, parse_json_strict, sha256_hex
from consent._countries import ISO_3166_ALPHA2
from consent._errors import InvalidInput, InvalidStatement

__all__ = [
    "CHANNELS",
    "POSITIONS",
    "STATEMENT_TYPE",
    "TRANSFERS",
    "Evidence",
    "StatementPayload",
    "StatementScope",
    "parse_statement_payload",
]

STATEMENT_TYPE = "exchange-consent/statement/v1"
POSITIONS = ("consents", "refuses", "withdraws", "retracts")
CHANNELS = (
    "lawyer_visit",
    "letter",
    "phone_call",
    "court_hearing",
    "public_statement",
    "recorded_message",
    "in_person",
)
TRANSFERS = ("exchange", "expulsion")
EARLIEST_STATED_ON = dt.date(1900, 1, 1)
MAX_EVIDENCE = 64

Position = Literal["consents", "refuses", "withdraws", "retracts"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMMON = {"type", "person", "position", "stated_on", "channel", "evidence", "duress_concern",
           "previous"}
_SCOPE_FIELDS = {"transfers", "destinations", "accepts_pardon_petition",
                 "requires_documents_returned", "requires_family_may_accompany"}


@dataclass(frozen=True, slots=True)
class Evidence:
    sha256: str
    kind: str


@dataclass(frozen=True, slots=True)
class StatementScope:
    transfers: tuple[str, ...]
    destinations: tuple[str, ...]
    accepts_pardon_petition: bool
    requires_documents_returned: bool
    requires_family_may_accompany: bool


@dataclass(frozen=True, slots=True)
class StatementPayload:
    statement_id: str
    person_id: str
    commitment: str
    position: Position
    stated_on: dt.date
    channel: str
    evidence: tuple[Evidence, ...]
    duress_concern: bool
    previous: str | None
    retracts: str | None
    scope: StatementScope | None


def _fail(code: str, message: str) -> InvalidStatement:
    return InvalidStatement(code, message)


def _require_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail("bad_type", f"'{field}' must be true or false.")
    return value


def _require_hex(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _fail("bad_hash", f"'{field}' must be 64 lowercase hex digits.")
    return value


def _check_members(obj: Any, required: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _fail("bad_type", f"'{where}' must be a JSON object.")
    unknown = set(obj) - required
    if unknown:
        raise _fail("unknown_field", f"'{where}' has a member the schema does not define.")
    missing = required - set(obj)
    if missing:
        raise _fail("missing_field", f"'{where}' lacks the member '{sorted(missing)[0]}'.")
    return cast(dict[str, Any], obj)


def _parse_person(value: Any) -> tuple[str, str]:
    person = _check_members(value, {"id", "commitment"}, "person")
    raw_id = person["id"]
    if not isinstance(raw_id, str):
        raise _fail("bad_person_id", "'person.id' must be a UUIDv4 string.")
    try:
        parsed = uuid.UUID(raw_id)
    except ValueError as exc:
        raise _fail("bad_person_id", "'person.id' must be a UUIDv4 string.") from exc
    if parsed.version != 4 or str(parsed) != raw_id:
        raise _fail("bad_person_id", "'person.id' must be a lowercase canonical UUIDv4.")
    return raw_id, _require_hex(person["commitment"], "person.commitment")


def _parse_date(value: Any, today: dt.date) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail("bad_date", "'stated_on' must be a date written YYYY-MM-DD.")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _fail("bad_date", "'stated_on' is not a calendar date.") from exc
    if day > today:
        raise _fail("future_date", "'stated_on' is in the future.")
    if day < EARLIEST_STATED_ON:
        raise _fail("bad_date", "'stated_on' is implausibly early.")
    return day


def _parse_evidence(value: Any) -> tuple[Evidence, ...]:
    if not isinstance(value, list):
        raise _fail("bad_type", "'evidence' must be a list.")
    if len(value) > MAX_EVIDENCE:
        raise _fail("too_much_evidence", "'evidence' lists too many items.")
    items = []
    for raw in value:
        item = _check_members(raw, {"sha256", "kind"}, "evidence[]")
        kind = item["kind"]
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise _fail("bad_evidence_kind", "'evidence[].kind' must be one short word.")
        items.append(Evidence(_require_hex(item["sha256"], "evidence[].sha256"), kind))
    return tuple(items)


def _parse_scope(value: Any) -> StatementScope:
    scope = _check_members(value, _SCOPE_FIELDS, "scope")
    transfers = scope["transfers"]
    if not isinstance(transfers, list) or not transfers:
        raise _fail("empty_transfers", "'scope.transfers' must list at least one transfer.")
    if any(t not in TRANSFERS for t in transfers):
        raise _fail("bad_transfer", "'scope.transfers' may list only 'exchange', 'expulsion'.")
    if len(set(transfers)) != len(transfers):
        raise _fail("duplicate_item", "'scope.transfers' lists a transfer twice.")
    destinations = scope["destinations"]
    if not isinstance(destinations, list) or not destinations:
        raise _fail("empty_destinations", "'scope.destinations' must not be empty.")
    if "*" in destinations:
        if destinations != ["*"]:
            raise _fail("bad_country", "'*' in 'scope.destinations' must stand alone.")
    elif any(not isinstance(d, str) or d not in ISO_3166_ALPHA2 for d in destinations):
        raise _fail("bad_country", "'scope.destinations' has a code that is not ISO 3166-1 "
                    "alpha-2.")
    if len(set(destinations)) != len(destinations):
        raise _fail("duplicate_item", "'scope.destinations' lists a country twice.")
    return StatementScope(
        transfers=tuple(transfers),
        destinations=tuple(destinations),
        accepts_pardon_petition=_require_bool(scope["accepts_pardon_petition"],
                                              "scope.accepts_pardon_petition"),
        requires_documents_returned=_require_bool(scope["requires_documents_returned"],
                                                  "scope.requires_documents_returned"),
        requires_family_may_accompany=_require_bool(scope["requires_family_may_accompany"],
                                                    "scope.requires_family_may_accompany"),
    )


def parse_statement_payload(payload: bytes, *, today: dt.date) -> StatementPayload:
    """Validate payload bytes; ``today`` bounds ``stated_on`` (time is a parameter).

    The bytes must already be RFC 8785 canonical: one statement has exactly one encoding,
    hence exactly one statement id.
    """
    try:
        value = parse_json_strict(payload)
    except InvalidInput as exc:
        raise _fail("not_json", "The payload is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise _fail("bad_type", "The payload must be a JSON object.")
    position = value.get("position")
    if position not in POSITIONS:
        raise _fail("bad_position", "'position' must be consents, refuses, withdraws or "
                    "retracts.")
    required = set(_COMMON)
    if position == "consents":
        required.add("scope")
    if position == "retracts":
        required.add("retracts")
    if "scope" in value and position != "consents":
        raise _fail("scope_on_non_consent", "Only a consent may carry a 'scope'.")
    if "retracts" in value and position != "retracts":
        raise _fail("retracts_on_non_retraction", "Only a retraction may carry 'retracts'.")
    if position == "consents" and "scope" not in value:
        raise _fail("missing_scope", "A consent must carry a 'scope'.")
    obj = _check_members(value, required, "payload")
    if obj["type"] != STATEMENT_TYPE:
        raise _fail("bad_statement_type", "'type' must be 'exchange-consent/statement/v1'.")
    if obj["channel"] not in CHANNELS:
        raise _fail("bad_channel", "'channel' is not one of the defined channels.")
    previous = obj["previous"]
    if previous is not None:
        previous = _require_hex(previous, "previous")
    person_id, commitment = _parse_person(obj["person"])
    result = StatementPayload(
        statement_id=sha256_hex(payload),
        person_id=person_id,
        commitment=commitment,
        position=cast(Position, position),
        stated_on=_parse_date(obj["stated_on"], today),
        channel=obj["channel"],
        evidence=_parse_evidence(obj["evidence"]),
        duress_concern=_require_bool(obj["duress_concern"], "duress_concern"),
        previous=previous,
        retracts=_require_hex(obj["retracts"], "retracts") if position == "retracts" else None,
        scope=_parse_scope(obj["scope"]) if position == "consents" else None,
    )
    if canonical_bytes(value) != payload:
        raise _fail("not_canonical", "The payload is not in RFC 8785 canonical form.")
    return result
