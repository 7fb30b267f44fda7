"""The log in the database: same-transaction appends, proofs, checkpoints, tamper evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from audit import (
    LogVerificationError,
    Verifier,
    leaf_hash,
    open_checkpoint,
    read_dump,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
    verify_log,
    verify_receipt,
)
from audit.storage import LogEntry, LogNode, LogStore
from consent import ConsentService, PersonRecord, canonical_bytes
from tests.conftest import World
from tests.consent.helpers import statement


def leaves(service: ConsentService) -> list[bytes]:
    with service.reading() as session:
        return [bytes(x) for x in session.execute(select(LogEntry.leaf).order_by(
            LogEntry.idx)).scalars()]


@pytest.fixture
def person(world: World) -> PersonRecord:
    return world.service.register_person(world.alice.actor, full_name="Ivan Testov")


def test_every_state_change_is_logged(world: World, person: PersonRecord) -> None:
    env = statement(world.service, person, "refuses", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, env)
    tags = [json.loads(leaf)["tag"] for leaf in leaves(world.service)]
    for tag in ("admin:log:created", "admin:policy:activated", "admin:user:invited",
                "admin:organisation:created", "advocate:key:registered", "admin:key:approved",
                "advocate:person:registered", "advocate:statement:recorded"):
        assert tag in tags
    recorded = json.loads(leaves(world.service)[-1])
    assert recorded["envelope"] == env.to_json()
    assert recorded["statement_id"] == env.statement_id


def test_proofs_checkpoint_and_receipt(world: World, person: PersonRecord) -> None:
    env = statement(world.service, person, "refuses", world.alice.keys[0])
    receipt = world.service.record_statement(world.alice.actor, env)
    verifier = Verifier.from_vkey(world.service.vkey())
    all_leaves = leaves(world.service)
    checkpoint = open_checkpoint(world.service.checkpoint(), verifier)
    assert checkpoint.size == len(all_leaves)
    assert checkpoint.root_hash == root_from_leaf_hashes([leaf_hash(x) for x in all_leaves])
    verify_receipt(receipt.receipt, all_leaves[receipt.log_index], verifier)
    size = len(all_leaves)
    for index in range(size):
        proof = world.service.inclusion_proof(world.auditor, index, size)
        verify_inclusion(leaf_hash(all_leaves[index]), index, size, proof,
                         checkpoint.root_hash)
    first = 3
    first_root = root_from_leaf_hashes([leaf_hash(x) for x in all_leaves[:first]])
    verify_consistency(first, size, world.service.consistency_proof(first, size), first_root,
                       checkpoint.root_hash)


def test_append_stores_about_two_nodes_per_leaf(world: World) -> None:
    with world.service.reading() as session:
        size = LogStore.size(session)
        nodes = session.execute(select(func.count()).select_from(LogNode)).scalar_one()
    assert size <= nodes < 2 * size


def test_failed_operation_appends_nothing(world: World, person: PersonRecord) -> None:
    before = leaves(world.service)
    env = statement(world.service, person, "refuses", world.bob.keys[0])
    with pytest.raises(Exception):  # noqa: B017 - any refusal; what matters is below
        world.service.record_statement(world.alice.actor, env)
    assert leaves(world.service) == before


def _dump(service: ConsentService, out: Path) -> tuple[str, list[bytes]]:
    service.dump_log(out)
    note, entries = read_dump(out)
    return note, list(entries)


def _history(world: World, person: PersonRecord) -> None:
    for position in ("refuses", "withdraws", "refuses"):
        env = statement(world.service, person, position, world.alice.keys[0])
        world.service.record_statement(world.alice.actor, env)


def test_untampered_dump_verifies(world: World, person: PersonRecord, tmp_path: Path) -> None:
    _history(world, person)
    note, entries = _dump(world.service, tmp_path / "ok")
    report = verify_log(note, entries, Verifier.from_vkey(world.service.vkey()))
    assert report is not None


def _tamper(world: World, sql: str, params: dict[str, object]) -> None:
    with world.service.db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize("attack", ["change_time", "change_signature", "delete", "swap",
                                    "truncate"])
def test_rewritten_history_is_named(world: World, person: PersonRecord, tmp_path: Path,
                                    attack: str) -> None:
    _history(world, person)
    trusted_note = world.service.checkpoint()
    trusted_size = open_checkpoint(trusted_note, world.service.verifier).size
    all_leaves = leaves(world.service)
    target = next(i for i, leaf in enumerate(all_leaves)
                  if b"advocate:statement:recorded" in leaf)
    with world.service.transaction() as tx:
        tx.session.execute(text("DELETE FROM log_node"))
        tx.session.execute(text("UPDATE log_head SET size = 0"))
        tx.session.execute(text("DELETE FROM log_entry"))
        changed = list(all_leaves)
        if attack == "change_time":
            changed[target] = changed[target].replace(b'"time":"2026', b'"time":"2025', 1)
        elif attack == "change_signature":
            event = json.loads(changed[target])
            sig = event["envelope"]["signatures"][0]["sig"]
            event["envelope"]["signatures"][0]["sig"] = ("B" if sig[0] == "A" else "A") + sig[1:]
            changed[target] = canonical_bytes(event)
        elif attack == "delete":
            del changed[target]
        elif attack == "swap":
            changed[target], changed[target + 1] = changed[target + 1], changed[target]
        else:
            changed = changed[:target]
        for leaf in changed:
            world.service.log.append(tx.session, leaf, json.loads(leaf)["tag"])
    note, entries = _dump(world.service, tmp_path / "bad")
    with pytest.raises(LogVerificationError) as caught:
        verify_log(note, entries, world.service.verifier, trusted_note)
    error = caught.value
    assert target < trusted_size
    if attack == "change_time":
        # Only the root can see an edit to a field nobody signed: it names the trusted
        # tree size, the bound before which the history was rewritten.
        assert (error.exact, error.index) == (False, trusted_size)
    else:
        # Signatures, the statement chain (`previous`) and the trusted size name the entry.
        assert (error.exact, error.index) == (True, target)



def test_receipt_carries_its_leaf(world: World, person: PersonRecord) -> None:
    from audit import parse_receipt

    env = statement(world.service, person, "refuses", world.alice.keys[0])
    receipt = world.service.record_statement(world.alice.actor, env)
    parsed = parse_receipt(receipt.receipt)
    assert parsed.extra == leaves(world.service)[receipt.log_index]
    assert parsed.extra is not None
    verify_receipt(receipt.receipt, parsed.extra, world.service.verifier)
    forged = parsed.extra.replace(b"\"time\":\"2026", b"\"time\":\"2025")
    assert forged != parsed.extra
    with pytest.raises(Exception):  # noqa: B017 - VerificationError: the leaf changed
        verify_receipt(receipt.receipt, forged, world.service.verifier)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_bulk_appends_build_the_same_tree(service: ConsentService,
                                          batches: list[int]) -> None:
    """Appending in batches of any size gives the tree of appending one by one."""
    with service.transaction() as tx:
        start = LogStore.size(tx.session)
        counter = start
        for size in batches:
            items = [(b'{"n":%d}' % (counter + i), "test:leaf:appended") for i in range(size)]
            indexes = service.log.append_many(tx.session, items)
            assert indexes == list(range(counter, counter + size))
            counter += size
    all_leaves = leaves(service)
    expected = [leaf_hash(x) for x in all_leaves]
    size = len(all_leaves)
    with service.reading() as session:
        assert service.log.root(session, size) == root_from_leaf_hashes(expected)
        for index in range(start, size, 7):
            verify_inclusion(expected[index], index, size,
                             service.log.inclusion_proof(session, index, size),
                             root_from_leaf_hashes(expected))
