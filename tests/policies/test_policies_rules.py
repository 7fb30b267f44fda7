"""Rules and their combinators."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from policies_strategies import (
    CONTEXT,
    DEFAULT,
    ONE,
    TWO,
    consent,
    day,
    make_policy,
    refusal,
    scope,
)

from policies import (
    AllOf,
    AnyOf,
    EnoughSigners,
    Fresh,
    HasConsent,
    IsImprisoned,
    NotUnderDuress,
    PolicyError,
    Reason,
    RuleInput,
    ScopeCovers,
    rules_for,
)

R = Reason


@dataclass(frozen=True)
class Fixed:
    reason: Reason | None

    def check(self, ctx: RuleInput) -> Reason | None:
        return self.reason


def ctx(statement=None, status="imprisoned", context=CONTEXT, as_of=10):
    return RuleInput(statement, status, context, day(as_of))


def test_empty_combinations_are_refused():
    with pytest.raises(PolicyError, match="at least one rule"):
        AllOf()
    with pytest.raises(PolicyError, match="at least one rule"):
        AnyOf()


@pytest.mark.parametrize("combinator", [AllOf, AnyOf])
def test_combinations_take_only_rules(combinator):
    with pytest.raises(PolicyError):
        combinator(HasConsent(), "not a rule")
    with pytest.raises(PolicyError):
        combinator(None)


def test_all_of_collects_every_failure_in_order_once():
    rule = AllOf(
        Fixed(R.stale),
        Fixed(None),
        Fixed(R.refused),
        AllOf(Fixed(R.stale), Fixed(R.duress_concern)),
    )
    assert rule.failures(ctx()) == (R.stale, R.refused, R.duress_concern)
    assert rule.check(ctx()) == R.stale
    assert AllOf(Fixed(None), Fixed(None)).failures(ctx()) == ()
    assert AllOf(Fixed(None)).check(ctx()) is None


def test_any_of_passes_when_one_passes():
    assert AnyOf(Fixed(R.stale), Fixed(None)).check(ctx()) is None
    assert AnyOf(Fixed(R.stale), Fixed(R.refused)).check(ctx()) == R.stale
    assert AllOf(AnyOf(Fixed(R.refused), Fixed(R.stale))).failures(ctx()) == (R.refused,)


def test_combinators_are_frozen_values():
    assert AllOf(HasConsent(), IsImprisoned()) == AllOf(HasConsent(), IsImprisoned())
    assert hash(AnyOf(HasConsent())) == hash(AnyOf(HasConsent()))


def test_is_imprisoned():
    assert IsImprisoned().check(ctx()) is None
    for status in ("released", "deceased", "unknown"):
        assert IsImprisoned().check(ctx(status=status)) == R.not_imprisoned


def test_has_consent():
    assert HasConsent().check(ctx()) == R.no_statement
    assert HasConsent().check(ctx(consent("c", 0))) is None
    assert HasConsent().check(ctx(refusal("r", 0))) == R.refused


def test_consent_rules_pass_on_non_consents_so_has_consent_must_be_included():
    for rule in (EnoughSigners(2, True), Fresh(0), NotUnderDuress(), ScopeCovers()):
        assert rule.check(ctx(None)) is None
        assert rule.check(ctx(refusal("r", 0, duress=True), as_of=999)) is None
    assert rules_for(DEFAULT).rules[0] == HasConsent()


def test_enough_signers():
    assert EnoughSigners(2, False).check(ctx(consent("c", 0, TWO))) is None
    assert EnoughSigners(2, False).check(ctx(consent("c", 0, ONE))) == R.insufficient_signers
    assert EnoughSigners(2, True).check(ctx(consent("c", 0, TWO))) == R.insufficient_signers
    with pytest.raises(PolicyError):
        EnoughSigners(0, False)
    with pytest.raises(PolicyError):
        EnoughSigners(True, False)  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        EnoughSigners(2, 1)  # type: ignore[arg-type]


def test_fresh():
    assert Fresh(10).check(ctx(consent("c", 0), as_of=10)) is None
    assert Fresh(10).check(ctx(consent("c", 0), as_of=11)) == R.stale
    with pytest.raises(PolicyError):
        Fresh(-1)


def test_not_under_duress_and_scope_covers():
    assert NotUnderDuress().check(ctx(consent("c", 0, duress=True))) == R.duress_concern
    assert NotUnderDuress().check(ctx(consent("c", 0))) is None
    narrow = consent("c", 0, within=scope(destinations=["LT"]))
    assert ScopeCovers().check(ctx(narrow)) == R.out_of_scope
    assert ScopeCovers().check(ctx(consent("c", 0))) is None


def test_rules_for_policy():
    assert rules_for(DEFAULT) == AllOf(
        HasConsent(),
        EnoughSigners(2, False),
        Fresh(180),
        ScopeCovers(),
        NotUnderDuress(),
        IsImprisoned(),
    )
    lenient = make_policy(min_signers=3, distinct=True, max_age=30, exclude=False)
    assert rules_for(lenient) == AllOf(
        HasConsent(), EnoughSigners(3, True), Fresh(30), ScopeCovers(), IsImprisoned()
    )
