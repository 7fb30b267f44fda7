"""Persons: encrypted identity, commitment, blind-index search, all-or-nothing CSV import."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from audit.storage import LogEntry
from consent import Conflict, ImportRejected, InvalidIdentity, canonical_bytes, commitment_of
from consent._tables import Person
from tests.conftest import World


def test_identity_is_encrypted_at_rest(world: World) -> None:
    person = world.service.register_person(world.alice.actor, full_name="Zinaida Plaintextova",
                                           birth_date="1961-03-04", location="IK-7 Segezha")
    with world.service.reading() as session:
        row = session.get(Person, person.id)
        assert row is not None
        for blob in (row.identity, row.salt):
            assert b"Plaintextova" not in blob and b"Segezha" not in blob
        assert person.salt not in row.salt
    assert person.identity.full_name == "Zinaida Plaintextova"


def test_commitment_follows_design(world: World) -> None:
    person = world.service.register_person(world.alice.actor, full_name="Oleg Orlov",
                                           birth_date="1953-04-04")
    expected = hashlib.sha256(person.salt + canonical_bytes(
        {"birth_date": "1953-04-04", "full_name": "Oleg Orlov"})).hexdigest()
    assert person.commitment == expected == commitment_of(person.salt, person.identity)
    assert len(person.salt) == 32


def test_log_carries_no_names(world: World) -> None:
    world.service.register_person(world.alice.actor, full_name="Nameless Secretov",
                                  birth_date="1980-01-01", aliases=["Sekretov"])
    with world.service.reading() as session:
        leaves = [bytes(x) for x in session.execute(select(LogEntry.leaf)).scalars()]
    assert leaves and not any(b"Secretov" in leaf or b"Sekretov" in leaf for leaf in leaves)
    events = [json.loads(leaf) for leaf in leaves]
    assert {"tag", "time", "actor"} <= set(events[-1])
    assert events[-1]["tag"] == "advocate:person:registered"


@pytest.mark.parametrize("query", ["Кагарлицкий", "Kagarlitsky", "Kagarlitskiy", "kagarlitskij"])
def test_search_meets_across_scripts(world: World, query: str) -> None:
    person = world.service.register_person(world.alice.actor, full_name="Борис Кагарлицкий",
                                           birth_date="1958-08-29")
    other = world.service.register_person(world.alice.actor, full_name="Boris Kagarlitsky")
    found = {p.id for p in world.service.find_persons(world.alice.actor, "Борис " + query)}
    found |= {p.id for p in world.service.find_persons(world.alice.actor, "Boris " + query)}
    assert found == {person.id, other.id}


def test_duplicate_person_is_a_conflict(world: World) -> None:
    world.service.register_person(world.alice.actor, full_name="Ilya Yashin",
                                  birth_date="1983-06-29")
    with pytest.raises(Conflict):
        world.service.register_person(world.bob.actor, full_name="Илья Яшин",
                                      birth_date="1983-06-29")


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"full_name": ""}, "missing_field"),
    ({"full_name": "x" * 201}, "too_long"),
    ({"full_name": "A\x00B"}, "bad_character"),
    ({"full_name": "A B", "birth_date": "1899-12-31"}, "bad_date"),
    ({"full_name": "A B", "birth_date": "2099-01-01"}, "bad_date"),
    ({"full_name": "A B", "birth_date": "31.12.1970"}, "bad_date"),
    ({"full_name": "A B", "status": "free"}, "bad_status"),
])
def test_bad_identity_is_refused(world: World, kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        world.service.register_person(world.alice.actor, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == code


def _count(world: World) -> int:
    with world.service.reading() as session:
        return session.execute(select(func.count()).select_from(Person)).scalar_one()


GOOD = ("full_name,birth_date,aliases,location,status\n"
        "Anna Alpha,1970-01-01,Anya;A.,Moscow,imprisoned\n"
        "Boris Beta,,,,released\n"
        "Вера Гамма,1990-05-05,,,\n").encode()


def test_import_is_idempotent(world: World) -> None:
    report = world.service.import_persons(world.alice.actor, GOOD)
    assert (report.added, report.already_present) == (3, 0)
    again = world.service.import_persons(world.alice.actor, GOOD)
    assert (again.added, again.already_present) == (0, 3)
    assert _count(world) == 3


def test_import_is_all_or_nothing_and_names_every_bad_row(world: World) -> None:
    bad = GOOD + (b"Secret Person,1970-13-01,,,\n"
                  b",1970-01-01,,,\n"
                  b"Ok Person,1971-01-01,,,\n"
                  b"Cell,Count\n")
    with pytest.raises(ImportRejected) as caught:
        world.service.import_persons(world.alice.actor, bad)
    assert [(line, code) for line, code, _ in caught.value.rows] == [
        (5, "bad_date"), (6, "missing_field"), (8, "bad_row")]
    assert "Secret" not in repr(caught.value.rows)
    assert _count(world) == 0


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"name,birth\nx,y\n",
                                  b"full_name,full_name\na,b\n"])
def test_import_refuses_unusable_files(world: World, data: bytes) -> None:
    with pytest.raises(ImportRejected):
        world.service.import_persons(world.alice.actor, data)
    assert _count(world) == 0
