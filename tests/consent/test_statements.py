"""Recording statements: the server verifies and stores, and cannot be made to accept forgeries."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from audit.storage import LogEntry
from consent import (
    DuplicateSignature,
    DuplicateStatement,
    Envelope,
    Forbidden,
    InvalidSignature,
    InvalidStatement,
    KeyNotUsable,
    PersonRecord,
    Signature,
    StaleChain,
    key_id_of,
    public_key_bytes,
    sign_envelope,
    sign_existing,
)
from consent._tables import Statement, StatementSignature
from policies import ListContext, Reason
from tests.conftest import World
from tests.consent.helpers import latest, payload_for, statement

CONTEXT = ListContext("exchange", "DE", False, True, False)


@pytest.fixture
def person(world: World) -> PersonRecord:
    return world.service.register_person(world.alice.actor, full_name="Ivan Testov",
                                         birth_date="1970-01-02")


def counts(world: World) -> tuple[int, int, int]:
    with world.service.reading() as s:
        return (s.execute(select(func.count()).select_from(Statement)).scalar_one(),
                s.execute(select(func.count()).select_from(StatementSignature)).scalar_one(),
                s.execute(select(func.count()).select_from(LogEntry)).scalar_one())


def test_record_and_corroborate(world: World, person: PersonRecord) -> None:
    env = statement(world.service, person, "consents", world.alice.keys[0])
    receipt = world.service.record_statement(world.alice.actor, env)
    assert receipt.statement_id == env.statement_id
    assert receipt.receipt.startswith("c2sp.org/tlog-proof@v1\n")
    decision = world.service.decision(world.alice.actor, person.id, CONTEXT)
    assert decision.reasons == (Reason.insufficient_signers,)
    more = sign_existing(env, world.bob.keys[0])
    world.service.add_signature(world.bob.actor, env.statement_id, more)
    assert world.service.decision(world.alice.actor, person.id, CONTEXT).eligible
    with pytest.raises(DuplicateSignature):
        world.service.add_signature(world.bob.actor, env.statement_id, more)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(st.data())
def test_changing_any_byte_is_rejected(world: World, person: PersonRecord,
                                       data: st.DataObject) -> None:
    env = statement(world.service, person, "refuses", world.alice.keys[0])
    target = data.draw(st.sampled_from(["payload", "sig"]))
    blob = env.payload if target == "payload" else env.signatures[0].sig
    position = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = blob[:position] + bytes([blob[position] ^ flip]) + blob[position + 1:]
    if target == "payload":
        forged = dataclasses.replace(env, payload=changed)
    else:
        forged = dataclasses.replace(env, signatures=(Signature(env.signatures[0].keyid,
                                                                changed),))
    before = counts(world)
    with pytest.raises((InvalidSignature, InvalidStatement, StaleChain)):
        world.service.record_statement(world.alice.actor, forged)
    assert counts(world) == before


def test_unknown_unapproved_and_revoked_keys_are_rejected(world: World,
                                                          person: PersonRecord) -> None:
    stranger = Ed25519PrivateKey.generate()
    pending = world.new_key(world.alice, approve=False)
    revoked = world.new_key(world.alice)
    world.service.revoke_key(world.admin, key_id_of(public_key_bytes(revoked)))
    for key in (stranger, pending, revoked):
        env = statement(world.service, person, "refuses", key)
        with pytest.raises(KeyNotUsable):
            world.service.record_statement(world.alice.actor, env)
        # Alongside a good signature, a bad key still sinks the whole envelope.
        env = statement(world.service, person, "refuses", world.alice.keys[0], key)
        with pytest.raises(KeyNotUsable):
            world.service.record_statement(world.alice.actor, env)
    assert counts(world)[0] == 0


def test_same_advocate_twice_counts_once(world: World, person: PersonRecord) -> None:
    second = world.new_key(world.alice)
    env = statement(world.service, person, "consents", world.alice.keys[0], second)
    world.service.record_statement(world.alice.actor, env)
    decision = world.service.decision(world.alice.actor, person.id, CONTEXT)
    assert not decision.eligible
    assert decision.reasons == (Reason.insufficient_signers,)
    third = world.new_key(world.alice)
    world.service.add_signature(world.alice.actor, env.statement_id, sign_existing(env, third))
    assert not world.service.decision(world.alice.actor, person.id, CONTEXT).eligible


def test_previous_must_be_the_latest(world: World, person: PersonRecord) -> None:
    first = statement(world.service, person, "refuses", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, first)
    stale = sign_envelope(payload_for(person, "withdraws", previous=None), world.alice.keys[0])
    with pytest.raises(StaleChain):
        world.service.record_statement(world.alice.actor, stale)
    with pytest.raises(DuplicateStatement):
        world.service.record_statement(world.alice.actor, first)
    assert latest(world.service, person) == first.statement_id


def test_submitter_must_be_a_signer(world: World, person: PersonRecord) -> None:
    env = statement(world.service, person, "refuses", world.bob.keys[0])
    with pytest.raises(Forbidden):
        world.service.record_statement(world.alice.actor, env)
    env2 = statement(world.service, person, "refuses", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, env2)
    with pytest.raises(Forbidden):
        world.service.add_signature(world.alice.actor, env2.statement_id,
                                    sign_existing(env2, world.bob.keys[0]))


def test_commitment_must_match(world: World, person: PersonRecord) -> None:
    wrong = dataclasses.replace(person, commitment="00" * 32)
    env = sign_envelope(payload_for(wrong, "refuses", previous=None), world.alice.keys[0])
    with pytest.raises(InvalidStatement) as caught:
        world.service.record_statement(world.alice.actor, env)
    assert caught.value.code == "unknown_person"


def test_retractions(world: World, person: PersonRecord) -> None:
    refusal = statement(world.service, person, "refuses", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, refusal)
    consent = statement(world.service, person, "consents", world.alice.keys[0],
                        world.bob.keys[0], stated_on=dt.date(2026, 10, 2))
    world.service.record_statement(world.alice.actor, consent)
    assert world.service.decision(world.alice.actor, person.id, CONTEXT).eligible
    # One voice retracts a consent.
    retraction = statement(world.service, person, "retracts", world.bob.keys[0],
                           retracts=consent.statement_id, stated_on=dt.date(2026, 10, 3))
    world.service.record_statement(world.bob.actor, retraction)
    decision = world.service.decision(world.alice.actor, person.id, CONTEXT)
    assert decision.reasons == (Reason.refused,)
    with pytest.raises(InvalidStatement) as caught:
        world.service.record_statement(world.bob.actor, statement(
            world.service, person, "retracts", world.bob.keys[0],
            retracts=retraction.statement_id, stated_on=dt.date(2026, 10, 4)))
    assert caught.value.code == "retracts_retraction"


def test_role_checks_in_the_core(world: World, person: PersonRecord) -> None:
    env = statement(world.service, person, "refuses", world.alice.keys[0])
    for actor in (world.admin, world.compiler, world.auditor):
        with pytest.raises(Forbidden):
            world.service.record_statement(actor, env)
    with pytest.raises(Forbidden):
        world.service.approve_key(world.alice.actor, "00" * 32)


def test_crash_mid_write_leaves_nothing(world: World, person: PersonRecord,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the statement row and log entry are written rolls all of it back."""
    env = statement(world.service, person, "consents", world.alice.keys[0], world.bob.keys[0])
    before = counts(world)
    import consent._statements as module

    original = module.StatementSignature

    def explode(*args: object, **kwargs: object) -> object:
        raise RuntimeError("simulated crash between writes")

    monkeypatch.setattr(module, "StatementSignature", explode)
    with pytest.raises(RuntimeError):
        world.service.record_statement(world.alice.actor, env)
    assert counts(world) == before
    assert latest(world.service, person) is None
    monkeypatch.setattr(module, "StatementSignature", original)
    world.service.record_statement(world.alice.actor, env)
    assert counts(world) == (before[0] + 1, before[1] + 2, before[2] + 1)


def test_forged_signature_row_cannot_make_anyone_eligible(world: World,
                                                          person: PersonRecord) -> None:
    """A signature row written straight into the database is re-verified before 'eligible'."""
    env = statement(world.service, person, "consents", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, env)
    with world.service.transaction() as tx:
        tx.session.add(StatementSignature(
            statement_id=env.statement_id, key_id=key_id_of(public_key_bytes(world.bob.keys[0])),
            signer_user_id=world.bob.actor.user_id,
            signer_organisation_id=world.bob.actor.organisation_id or "",
            sig=bytes(64), log_index=0, recorded_at=tx.now))
    with world.service.reading() as s:
        assert s.execute(select(func.count()).select_from(StatementSignature)).scalar_one() == 2
    # the forged row claims a second advocate, but its bytes do not verify
    assert not world.service.decision(world.alice.actor, person.id, CONTEXT).eligible
    assert world.service.eligible(world.compiler, CONTEXT) == []


def test_envelope_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_envelope(b'{"a":1}', key)
    assert Envelope.from_json(env.to_json()) == env


def test_valid_but_unlogged_signature_row_cannot_make_anyone_eligible(
        world: World, person: PersonRecord) -> None:
    """Bob really signed, but the signature never went through the service (or the log)."""
    env = statement(world.service, person, "consents", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, env)
    real = sign_existing(env, world.bob.keys[0])
    with world.service.transaction() as tx:
        tx.session.add(StatementSignature(
            statement_id=env.statement_id, key_id=real.keyid,
            signer_user_id=world.bob.actor.user_id,
            signer_organisation_id=world.bob.actor.organisation_id or "",
            sig=real.sig, log_index=0, recorded_at=tx.now))
    assert not world.service.decision(world.alice.actor, person.id, CONTEXT).eligible
    assert world.service.eligible(world.compiler, CONTEXT) == []
    assert world.service.vet(world.compiler, CONTEXT, [{"person_id": person.id}]) == [False]


def test_signature_row_cannot_borrow_another_advocate(world: World,
                                                      person: PersonRecord) -> None:
    """Two keys of Alice; a row edited to name Bob as the second signer still counts once."""
    second = world.new_key(world.alice)
    env = statement(world.service, person, "consents", world.alice.keys[0], second)
    world.service.record_statement(world.alice.actor, env)
    with world.service.transaction() as tx:
        row = tx.session.execute(select(StatementSignature).where(
            StatementSignature.key_id == key_id_of(public_key_bytes(second)))).scalar_one()
        row.signer_user_id = world.bob.actor.user_id
        row.signer_organisation_id = world.bob.actor.organisation_id or ""
        tx.session.add(row)
    assert not world.service.decision(world.alice.actor, person.id, CONTEXT).eligible
    assert world.service.eligible(world.compiler, CONTEXT) == []


@pytest.mark.parametrize("candidate", [
    {"full_name": "!!!", "birth_date": "1970-01-01"},
    {"full_name": "Ivan Testov", "birth_date": "02/02/1972"},
    {"full_name": 7}, {"person_id": "not-a-uuid"}, {"person_id": None}, [], "text",
    {"full_name": "Ivan Testov", "extra": 1},
])
def test_vet_answers_any_unusable_candidate_with_a_plain_no(world: World, person: PersonRecord,
                                                           candidate: object) -> None:
    answer = world.service.vet(world.compiler, CONTEXT, [candidate])  # type: ignore[list-item]
    assert answer == [False]


def test_a_rewritten_refusal_never_uncovers_an_older_consent(world: World,
                                                              person: PersonRecord) -> None:
    """A refusal row rewritten into a consent: the history is unreadable, so not eligible,
    and the rest of the list still answers."""
    consent = statement(world.service, person, "consents", world.alice.keys[0],
                        world.bob.keys[0], stated_on=dt.date(2026, 9, 1))
    world.service.record_statement(world.alice.actor, consent)
    other = world.service.register_person(world.alice.actor, full_name="Other Eligible")
    world.service.record_statement(world.alice.actor, statement(
        world.service, other, "consents", world.alice.keys[0], world.bob.keys[0]))
    refusal = statement(world.service, person, "refuses", world.alice.keys[0],
                        stated_on=dt.date(2026, 10, 1))
    world.service.record_statement(world.alice.actor, refusal)
    forged = payload_for(person, "consents", previous=consent.statement_id,
                         stated_on=dt.date(2026, 10, 1))
    with world.service.transaction() as tx:
        row = tx.session.get(Statement, refusal.statement_id)
        assert row is not None
        row.payload, row.position = forged, "consents"
        tx.session.add(row)
    decision = world.service.decision(world.alice.actor, person.id, CONTEXT)
    assert not decision.eligible
    assert decision.deciding_statement_id == refusal.statement_id
    listed = world.service.eligible(world.compiler, CONTEXT)
    assert [p["person_id"] for p in listed] == [other.id]


def test_deleted_signature_rows_make_a_history_unreadable(world: World,
                                                          person: PersonRecord) -> None:
    refusal = statement(world.service, person, "refuses", world.alice.keys[0])
    world.service.record_statement(world.alice.actor, refusal)
    with world.service.transaction() as tx:
        tx.session.execute(delete(StatementSignature).where(
            StatementSignature.statement_id == refusal.statement_id))
    decision = world.service.decision(world.alice.actor, person.id, CONTEXT)
    assert not decision.eligible
    assert world.service.eligible(world.compiler, CONTEXT) == []
