"""Persons: identity encrypted at rest, the identity commitment, the blind index, CSV import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlmodel import Session, col

from consent._atrest import KeyRing
from consent._blindindex import BlindIndex
from consent._canonical import canonical_bytes, sha256_hex
from consent._errors import Conflict, ImportRejected, InvalidIdentity, NotFound
from consent._tables import Person
from consent._tx import Actor, Tx

__all__ = [
    "STATUSES",
    "Identity",
    "ImportReport",
    "PersonRecord",
    "PersonStatus",
    "commitment_of",
    "parse_identity",
]

PersonStatus = Literal["imprisoned", "released", "deceased", "unknown"]
STATUSES: tuple[PersonStatus, ...] = ("imprisoned", "released", "deceased", "unknown")
MAX_TEXT = 200
MAX_ALIASES = 10
MAX_IMPORT_ROWS = 50_000
IMPORT_COLUMNS = ("full_name", "birth_date", "aliases", "location", "status")


@dataclass(frozen=True, slots=True)
class Identity:
    full_name: str
    birth_date: dt.date | None = None
    aliases: tuple[str, ...] = ()
    location: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "aliases": list(self.aliases),
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as the core hands it out: decrypted identity, never the table row."""

    id: str
    identity: Identity
    status: PersonStatus
    commitment: str
    salt: bytes
    latest_statement_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    already_present: int


def _clean_text(value: object, field: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidIdentity("missing_field", f"'{field}' is required.")
        return None
    if not isinstance(value, str):
        raise InvalidIdentity("bad_type", f"'{field}' must be text.")
    text = unicodedata.normalize("NFC", value).strip()
    if not text and required:
        raise InvalidIdentity("missing_field", f"'{field}' is required.")
    if len(text) > MAX_TEXT:
        raise InvalidIdentity("too_long", f"'{field}' is longer than {MAX_TEXT} characters.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        raise InvalidIdentity("bad_character", f"'{field}' contains a control character.")
    return text or None


def parse_identity(
    full_name: object,
    birth_date: object = None,
    aliases: object = (),
    location: object = None,
    *,
    today: dt.date,
) -> Identity:
    name = _clean_text(full_name, "full_name", required=True)
    assert name is not None
    born: dt.date | None = None
    if isinstance(birth_date, dt.date):
        born = birth_date
    elif birth_date not in (None, ""):
        if not isinstance(birth_date, str) or len(birth_date) != 10:
            raise InvalidIdentity("bad_date", "'birth_date' must be written YYYY-MM-DD.")
        try:
            born = dt.date.fromisoformat(birth_date)
        except ValueError as exc:
            raise InvalidIdentity("bad_date", "'birth_date' is not a calendar date.") from exc
    if born is not None and not (dt.date(1900, 1, 1) <= born <= today):
        raise InvalidIdentity("bad_date", "'birth_date' is outside the plausible range.")
    if not isinstance(aliases, list | tuple):
        raise InvalidIdentity("bad_type", "'aliases' must be a list.")
    if len(aliases) > MAX_ALIASES:
        raise InvalidIdentity("too_many", "'aliases' has too many entries.")
    cleaned = tuple(a for a in (_clean_text(x, "aliases", required=False) for x in aliases) if a)
    return Identity(name, born, cleaned, _clean_text(location, "location", required=False))


def commitment_of(salt: bytes, identity: Identity) -> str:
    """hex SHA-256(salt || RFC 8785 {"birth_date", "full_name"}), DESIGN section 5."""
    committed = {
        "birth_date": identity.birth_date.isoformat() if identity.birth_date else None,
        "full_name": identity.full_name,
    }
    return sha256_hex(salt + canonical_bytes(committed))


def _check_status(status: object) -> PersonStatus:
    if status not in STATUSES:
        raise InvalidIdentity("bad_status", "'status' must be imprisoned, released, deceased "
                              "or unknown.")
    return status


class PersonBook:
    """Reads and writes persons; the only place that sees identity plaintext."""

    def __init__(self, ring: KeyRing, index: BlindIndex) -> None:
        self._ring = ring
        self._index = index

    def match_token(self, identity: Identity) -> str:
        born = identity.birth_date.isoformat() if identity.birth_date else None
        return self._index.token(identity.full_name, born)

    def name_token(self, name: str) -> str:
        return self._index.name_token(name)

    def _new_row(self, identity: Identity, status: PersonStatus, actor: Actor,
                 now: dt.datetime) -> Person:
        person_id = str(uuid.uuid4())
        salt = os.urandom(32)
        plaintext = canonical_bytes(identity.to_json())
        return Person(
            id=person_id,
            identity=self._ring.encrypt(plaintext, table="person", column="identity",
                                        row_id=person_id),
            salt=self._ring.encrypt(salt, table="person", column="salt", row_id=person_id),
            commitment=commitment_of(salt, identity),
            status=status,
            match_token=self.match_token(identity),
            name_token=self.name_token(identity.full_name),
            created_at=now,
            created_by=actor.user_id,
        )

    def _exists(self, session: Session, token: str) -> bool:
        query = select(col(Person.id)).where(col(Person.match_token) == token).limit(1)
        found = session.execute(query)
        return found.first() is not None

    def _existing(self, session: Session, tokens: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(tokens), 500):
            chunk = tokens[start:start + 500]
            found.update(session.execute(select(col(Person.match_token))
                                         .where(col(Person.match_token).in_(chunk))).scalars())
        return found

    def register(self, tx: Tx, actor: Actor, identity: Identity, status: object) -> PersonRecord:
        checked = _check_status(status)
        if self._exists(tx.session, self.match_token(identity)):
            raise Conflict("A person with this name and birth date is already registered.")
        row = self._new_row(identity, checked, actor, tx.now)
        tx.session.add(row)
        tx.session.flush()
        tx.log("advocate:person:registered", actor, person_id=row.id, commitment=row.commitment)
        return self.record(row)

    def set_status(self, tx: Tx, actor: Actor, person_id: str, status: object) -> PersonRecord:
        checked = _check_status(status)
        row = tx.session.get(Person, person_id)
        if row is None:
            raise NotFound()
        row.status = checked
        tx.session.add(row)
        tx.session.flush()
        tx.log("advocate:person:status_changed", actor, person_id=row.id, status=checked)
        return self.record(row)

    def import_csv(self, tx: Tx, actor: Actor, data: bytes) -> ImportReport:
        """All or nothing: every bad row is reported, and then nothing is written."""
        rows = parse_import(data, today=tx.now.date())
        problems = [(line, exc.code, exc.message) for line, exc in rows if isinstance(exc,
                    InvalidIdentity)]
        if problems:
            raise ImportRejected(problems)
        candidates = []
        for _line, parsed in rows:
            assert not isinstance(parsed, InvalidIdentity)
            candidates.append((parsed[0], parsed[1], self.match_token(parsed[0])))
        existing = self._existing(tx.session, [token for _i, _s, token in candidates])
        added, present, seen = 0, 0, set()
        new_rows = []
        for identity, status, token in candidates:
            if token in seen or token in existing:
                present += 1
                continue
            seen.add(token)
            new_rows.append(self._new_row(identity, status, actor, tx.now))
            added += 1
        tx.session.add_all(new_rows)
        tx.session.flush()
        tx.log_many("advocate:person:registered", actor,
                    [{"person_id": r.id, "commitment": r.commitment} for r in new_rows])
        return ImportReport(added=added, already_present=present)

    def record(self, row: Person) -> PersonRecord:
        plaintext = self._ring.decrypt(row.identity, table="person", column="identity",
                                       row_id=row.id)
        raw = json.loads(plaintext)
        identity = Identity(
            full_name=raw["full_name"],
            birth_date=dt.date.fromisoformat(raw["birth_date"]) if raw["birth_date"] else None,
            aliases=tuple(raw["aliases"]),
            location=raw["location"],
        )
        salt = self._ring.decrypt(row.salt, table="person", column="salt", row_id=row.id)
        return PersonRecord(
            id=row.id, identity=identity, status=_check_status(row.status),
            commitment=row.commitment, salt=salt,
            latest_statement_id=row.latest_statement_id, created_at=row.created_at,
        )

    def get(self, session: Session, person_id: str) -> PersonRecord:
        row = session.get(Person, person_id) if _is_uuid(person_id) else None
        if row is None:
            raise NotFound()
        return self.record(row)

    def find(self, session: Session, name: str) -> list[PersonRecord]:
        token = self.name_token(name)
        rows = session.execute(select(Person).where(col(Person.name_token) == token)).scalars()
        return [self.record(r) for r in rows]

    def lookup(self, session: Session, full_name: str, birth_date: str | None) -> list[str]:
        token = self._index.token(full_name, birth_date)
        return list(session.execute(select(col(Person.id)).where(col(Person.match_token) == token))
                    .scalars())


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def parse_import(
    data: bytes, *, today: dt.date
) -> Sequence[tuple[int, tuple[Identity, PersonStatus] | InvalidIdentity]]:
    """Parse every row, keeping each row's error instead of stopping at the first."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([(1, "not_utf8", "The file is not UTF-8 text.")]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ImportRejected([(1, "no_header", "The file has no header row.")]) from exc
    header = [h.strip() for h in header]
    if "full_name" not in header or any(h not in IMPORT_COLUMNS for h in header) or len(
            set(header)) != len(header):
        raise ImportRejected([(1, "bad_header", "The header must name only the columns "
                               + ", ".join(IMPORT_COLUMNS) + ", and full_name.")])
    results: list[tuple[int, tuple[Identity, PersonStatus] | InvalidIdentity]] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if len(results) >= MAX_IMPORT_ROWS:
                raise ImportRejected([(number, "too_many_rows", "The file has too many rows.")])
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                results.append((number, InvalidIdentity("bad_row", "The row has the wrong "
                                                        "number of cells.")))
                continue
            row = dict(zip(header, cells, strict=True))
            try:
                aliases = [a for a in row.get("aliases", "").split(";") if a.strip()]
                identity = parse_identity(row["full_name"], row.get("birth_date") or None,
                                          aliases, row.get("location") or None, today=today)
                status = _check_status(row.get("status") or "imprisoned")
                results.append((number, (identity, status)))
            except InvalidIdentity as exc:
                results.append((number, exc))
    except csv.Error as exc:
        raise ImportRejected([(reader.line_num, "bad_csv", "The file is not valid CSV.")]) from exc
    return results
