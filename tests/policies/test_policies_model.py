"""The model refuses malformed facts where they are made, naming the field, not the value."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from policies_strategies import CONTEXT, DEFAULT, TWO, day, scope

from policies import (
    Decision,
    ListContext,
    PolicyError,
    PolicyInputError,
    Reason,
    Scope,
    Signer,
    StatementFacts,
)

SHA = DEFAULT.sha256


def test_reason_codes_are_the_design_codes_in_order():
    assert [r.value for r in Reason] == [
        "no_statement",
        "refused",
        "withdrawn",
        "insufficient_signers",
        "stale",
        "out_of_scope",
        "duress_concern",
        "not_imprisoned",
    ]
    assert Reason.refused == "refused"


def test_values_are_frozen_and_slotted():
    for value in (Signer("a", "o"), scope(), CONTEXT, Decision(True, (), "c", "p", SHA)):
        assert not hasattr(value, "__dict__")
        first = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, first, None)


def test_errors_are_policy_errors_and_value_errors():
    with pytest.raises(PolicyError):
        Signer("", "o")
    assert issubclass(PolicyInputError, ValueError)


@pytest.mark.parametrize(
    ("advocate", "organisation"), [("", "o"), ("a", ""), (None, "o"), ("a", 3)]
)
def test_signer_fields(advocate, organisation):
    with pytest.raises(PolicyInputError):
        Signer(advocate, organisation)


def _scope(**changes):
    fields = {
        "transfers": frozenset({"exchange"}),
        "destinations": frozenset({"DE"}),
        "accepts_pardon_petition": False,
        "requires_documents_returned": False,
        "requires_family_may_accompany": False,
    }
    fields.update(changes)
    return Scope(**fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transfers", frozenset()),
        ("transfers", frozenset({"exile"})),
        ("transfers", {"exchange"}),  # a mutable set is not accepted
        ("transfers", ["exchange"]),
        ("destinations", frozenset()),
        ("destinations", frozenset({"de"})),
        ("destinations", frozenset({"DEU"})),
        ("destinations", frozenset({"*", "DE"})),
        ("destinations", frozenset({"D1"})),
        ("destinations", frozenset({"ÄÖ"})),
        ("destinations", "DE"),
        ("accepts_pardon_petition", 0),
        ("requires_documents_returned", "yes"),
        ("requires_family_may_accompany", None),
    ],
)
def test_scope_fields(field, value):
    with pytest.raises(PolicyInputError, match=field):
        _scope(**{field: value})


def test_scope_accepts_wildcard_and_codes():
    assert _scope(destinations=frozenset({"*"})).destinations == {"*"}
    assert _scope(
        transfers=frozenset({"exchange", "expulsion"}), destinations=frozenset({"DE", "LT"})
    )


def _statement(**changes):
    fields = {
        "statement_id": "s1",
        "position": "consents",
        "stated_on": day(0),
        "scope": scope(),
        "duress_concern": False,
        "retracts": None,
        "signers": TWO,
    }
    fields.update(changes)
    return StatementFacts(**fields)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"statement_id": ""}, "statement_id"),
        ({"position": "agrees"}, "position"),
        ({"stated_on": "2024-01-01"}, "stated_on"),
        ({"stated_on": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}, "stated_on"),
        ({"scope": None}, "scope"),
        ({"position": "refuses"}, "scope"),  # a refusal carries no scope
        ({"duress_concern": 1}, "duress_concern"),
        ({"retracts": "s0"}, "retracts"),  # only retractions name a target
        ({"position": "retracts", "scope": None}, "retracts"),  # a retraction needs one
        ({"position": "retracts", "scope": None, "retracts": ""}, "retracts"),
        ({"signers": frozenset()}, "signers"),
        ({"signers": {Signer("a", "o")}}, "signers"),
        ({"signers": frozenset({("a", "o")})}, "signers"),
    ],
)
def test_statement_fields(changes, field):
    with pytest.raises(PolicyInputError, match=field):
        _statement(**changes)


def test_statement_shapes_that_are_fine():
    assert _statement().position == "consents"
    assert _statement(position="withdraws", scope=None).scope is None
    assert _statement(position="retracts", scope=None, retracts="s0").retracts == "s0"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"transfer": "exile"}, "transfer"),
        ({"destination": "*"}, "destination"),
        ({"destination": "de"}, "destination"),
        ({"requires_pardon_petition": None}, "requires_pardon_petition"),
        ({"documents_returned": 1}, "documents_returned"),
        ({"family_may_accompany": "no"}, "family_may_accompany"),
    ],
)
def test_context_fields(changes, field):
    fields = dataclasses.asdict(CONTEXT)
    fields.update(changes)
    with pytest.raises(PolicyInputError, match=field):
        ListContext(**fields)


@pytest.mark.parametrize(
    "args",
    [
        (True, (Reason.stale,), "c", "p", SHA),  # eligible with a reason
        (False, (), "c", "p", SHA),  # ineligible without one
        (True, (), None, "p", SHA),  # eligible without a deciding consent
        (False, (Reason.stale, Reason.stale), "c", "p", SHA),
        (False, ("stale",), "c", "p", SHA),
        (False, [Reason.stale], "c", "p", SHA),
        (True, (), "c", "", SHA),
        (True, (), "c", "p", SHA.upper()),
        (True, (), "c", "p", "00"),
    ],
)
def test_decision_invariants(args):
    with pytest.raises(PolicyInputError):
        Decision(*args)


def test_values_never_echo_in_messages():
    secret = "Кагарлицкий-SECRET"
    for build in (
        lambda: Signer(advocate_id=secret, organisation_id=""),
        lambda: _scope(destinations=frozenset({secret})),
        lambda: ListContext("exchange", secret, False, False, False),
        lambda: _statement(statement_id="s1", position=secret),
    ):
        with pytest.raises(PolicyInputError) as info:
            build()
        assert "SECRET" not in str(info.value)
