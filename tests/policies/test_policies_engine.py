"""Worked examples for evaluate(): every reason code, ties, retractions, input checks."""

from __future__ import annotations

import datetime

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
    retraction,
    scope,
    signed_by,
    withdrawal,
)

from policies import (
    Decision,
    ListContext,
    PolicyInputError,
    Reason,
    StatementFacts,
    evaluate,
)

R = Reason


def decide(*statements, status="imprisoned", context=CONTEXT, policy=DEFAULT, as_of=10):
    when = day(as_of) if isinstance(as_of, int) else as_of
    return evaluate(list(statements), status, context, policy, when)


def test_eligible_decision_names_consent_and_policy():
    decision = decide(consent("c1", 0))
    assert decision == Decision(True, (), "c1", "explicit-consent", DEFAULT.sha256)


# -- one example per reason code ---------------------------------------------------------------


def test_no_statement():
    assert decide() == Decision(False, (R.no_statement,), None, DEFAULT.id, DEFAULT.sha256)


def test_refused():
    decision = decide(consent("c1", 0), refusal("r1", 1))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.refused,), "r1")


def test_withdrawn():
    decision = decide(consent("c1", 0), withdrawal("w1", 1))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.withdrawn,), "w1")


def test_insufficient_signers():
    decision = decide(consent("c1", 0, ONE))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.insufficient_signers,), "c1")


def test_two_keys_of_one_advocate_count_once():
    # the same advocate_id under two Signer values (here: two organisation ids)
    assert decide(consent("c1", 0, signed_by("a1@o1", "a1@o2"))).reasons == (
        R.insufficient_signers,
    )
    assert decide(consent("c1", 0, signed_by("a1@o1", "a2@o1"))).eligible


def test_distinct_organisations_when_required():
    policy = make_policy(distinct=True)
    same_org = consent("c1", 0, signed_by("a1@o1", "a2@o1"))
    assert decide(same_org, policy=policy).reasons == (R.insufficient_signers,)
    assert decide(consent("c1", 0, signed_by("a1@o1", "a2@o2")), policy=policy).eligible
    # one advocate under two organisations does not make two advocates
    one_advocate = consent("c1", 0, signed_by("a1@o1", "a1@o2"))
    assert decide(one_advocate, policy=policy).reasons == (R.insufficient_signers,)


def test_min_signers_above_two():
    policy = make_policy(min_signers=3)
    assert decide(consent("c1", 0, signed_by("a1", "a2")), policy=policy).reasons == (
        R.insufficient_signers,
    )
    assert decide(consent("c1", 0, signed_by("a1", "a2", "a3")), policy=policy).eligible


def test_stale_boundary():
    c = consent("c1", 0)
    assert decide(c, as_of=180).eligible  # exactly max_consent_age_days old
    assert decide(c, as_of=181).reasons == (R.stale,)
    short = make_policy(max_age=1)
    assert decide(c, as_of=1, policy=short).eligible
    assert decide(c, as_of=2, policy=short).reasons == (R.stale,)


@pytest.mark.parametrize(
    ("within", "context"),
    [
        (scope(transfers=["expulsion"]), CONTEXT),
        (scope(destinations=["LT", "PL"]), CONTEXT),
        (scope(pardon=False), ListContext("exchange", "DE", True, False, False)),
        (scope(documents=True), ListContext("exchange", "DE", False, False, False)),
        (scope(family=True), ListContext("exchange", "DE", False, False, False)),
    ],
    ids=["transfer", "destination", "pardon", "documents", "family"],
)
def test_out_of_scope_each_term(within, context):
    decision = decide(consent("c1", 0, within=within), context=context)
    assert decision.reasons == (R.out_of_scope,)


@pytest.mark.parametrize(
    ("within", "context"),
    [
        (scope(transfers=["exchange"], destinations=["DE"]), CONTEXT),
        (scope(destinations=["*"]), ListContext("expulsion", "FR", False, False, False)),
        (scope(pardon=True), ListContext("exchange", "DE", True, False, False)),
        (scope(pardon=True), CONTEXT),  # accepting a petition nobody asks for is fine
        (scope(documents=True), ListContext("exchange", "DE", False, True, False)),
        (scope(family=True), ListContext("exchange", "DE", False, False, True)),
        (scope(), ListContext("exchange", "DE", False, True, True)),  # more than asked for
    ],
    ids=["listed", "wildcard", "pardon", "unasked-pardon", "documents", "family", "generous"],
)
def test_in_scope(within, context):
    assert decide(consent("c1", 0, within=within), context=context).eligible


def test_duress_concern():
    assert decide(consent("c1", 0, duress=True)).reasons == (R.duress_concern,)
    assert decide(consent("c1", 0, duress=True), policy=make_policy(exclude=False)).eligible


@pytest.mark.parametrize("status", ["released", "deceased", "unknown"])
def test_not_imprisoned(status):
    assert decide(consent("c1", 0), status=status).reasons == (R.not_imprisoned,)
    assert decide(status=status).reasons == (R.no_statement, R.not_imprisoned)
    assert decide(refusal("r1", 0), status=status).reasons == (R.refused, R.not_imprisoned)


def test_every_failing_consent_reason_is_reported_in_order():
    bad = consent("c1", 0, ONE, within=scope(destinations=["LT"]), duress=True)
    assert decide(bad, status="released", as_of=400).reasons == (
        R.insufficient_signers,
        R.stale,
        R.out_of_scope,
        R.duress_concern,
        R.not_imprisoned,
    )


def test_refusal_or_withdrawal_under_duress_still_decides():
    assert decide(consent("c1", 0), refusal("r1", 1, duress=True)).reasons == (R.refused,)
    assert decide(consent("c1", 0), withdrawal("w1", 1, duress=True)).reasons == (R.withdrawn,)


def test_refusal_needs_only_one_signer_and_reports_only_refused():
    decision = decide(consent("c1", 0), refusal("r1", 200, ONE), as_of=400)
    assert decision.reasons == (R.refused,)


# -- dates and ties ------------------------------------------------------------------------------


def test_statements_after_as_of_are_not_seen():
    assert decide(consent("c1", 11), as_of=10).reasons == (R.no_statement,)
    assert decide(consent("c1", 0), refusal("r1", 11), as_of=10).eligible
    assert decide(consent("c1", 0), refusal("r1", 11), as_of=11).reasons == (R.refused,)


def test_latest_statement_decides():
    assert decide(refusal("r1", 0), consent("c1", 1)).eligible
    assert decide(consent("c1", 0), refusal("r1", 1)).reasons == (R.refused,)


def test_tie_refusal_beats_consent_and_withdrawal():
    for order in ([consent("c1", 5), refusal("r1", 5)], [refusal("r1", 5), consent("c1", 5)]):
        assert decide(*order).deciding_statement_id == "r1"
    decision = decide(withdrawal("w1", 5), refusal("r1", 5), consent("c1", 5))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.refused,), "r1")


def test_tie_withdrawal_beats_consent():
    decision = decide(consent("c1", 5), withdrawal("w1", 5))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.withdrawn,), "w1")


def test_tie_between_refusals_names_the_lowest_id():
    assert decide(refusal("r2", 5), refusal("r1", 5)).deciding_statement_id == "r1"


def test_tied_consents_all_passing_name_the_lowest_id():
    decision = decide(consent("c2", 5), consent("c1", 5))
    assert (decision.eligible, decision.deciding_statement_id) == (True, "c1")


def test_tied_consents_one_failing_is_default_deny():
    decision = decide(consent("c1", 5), consent("c2", 5, ONE))
    assert decision.reasons == (R.insufficient_signers,)
    assert decision.deciding_statement_id == "c2"


def test_tied_consents_several_failing_name_the_lowest_failing_id():
    decision = decide(
        consent("c3", 5, ONE),
        consent("c1", 5),
        consent("c2", 5, within=scope(destinations=["LT"])),
    )
    assert (decision.reasons, decision.deciding_statement_id) == ((R.out_of_scope,), "c2")


# -- retractions (principle 2) ----------------------------------------------------------------


def test_retracting_a_consent_takes_one_signer():
    decision = decide(consent("c1", 0), retraction("x1", 1, "c1", ONE))
    assert (decision.reasons, decision.deciding_statement_id) == ((R.no_statement,), None)


def test_retracting_the_latest_consent_uncovers_the_previous_statement():
    history = [refusal("r1", 0), consent("c1", 1), retraction("x1", 2, "c1", ONE)]
    assert decide(*history).reasons == (R.refused,)
    history = [consent("c0", 0), consent("c1", 1), retraction("x1", 2, "c1")]
    assert decide(*history).deciding_statement_id == "c0"


def test_retracting_a_refusal_with_one_signer_changes_nothing():
    with_it = decide(consent("c1", 0), refusal("r1", 1), retraction("x1", 2, "r1", ONE))
    without = decide(consent("c1", 0), refusal("r1", 1))
    assert with_it == without
    assert with_it.reasons == (R.refused,)


def test_retracting_a_refusal_with_two_signers_takes_effect():
    decision = decide(consent("c1", 0), refusal("r1", 1), retraction("x1", 2, "r1", TWO))
    assert (decision.eligible, decision.deciding_statement_id) == (True, "c1")


def test_retracting_a_withdrawal_needs_two_signers():
    history = [consent("c1", 0), withdrawal("w1", 1)]
    assert decide(*history, retraction("x1", 2, "w1", ONE)).reasons == (R.withdrawn,)
    assert decide(*history, retraction("x1", 2, "w1", TWO)).eligible


def test_retracting_a_refusal_by_two_keys_of_one_advocate_changes_nothing():
    history = [consent("c1", 0), refusal("r1", 1)]
    one_advocate = signed_by("a1@o1", "a1@o2")
    assert decide(*history, retraction("x1", 2, "r1", one_advocate)).reasons == (R.refused,)


def test_retracting_a_refusal_under_distinct_organisations():
    policy = make_policy(distinct=True)
    history = [consent("c1", 0, signed_by("a1@o1", "a2@o2")), refusal("r1", 1)]
    same_org = retraction("x1", 2, "r1", signed_by("a1@o1", "a2@o1"))
    assert decide(*history, same_org, policy=policy).reasons == (R.refused,)
    two_orgs = retraction("x1", 2, "r1", signed_by("a1@o1", "a2@o2"))
    assert decide(*history, two_orgs, policy=policy).eligible


def test_retracting_a_refusal_under_duress_changes_nothing_when_duress_excludes():
    history = [consent("c1", 0), refusal("r1", 1), retraction("x1", 2, "r1", TWO, duress=True)]
    assert decide(*history).reasons == (R.refused,)
    assert decide(*history, policy=make_policy(exclude=False)).eligible


def test_retracting_a_consent_under_duress_still_takes_effect():
    history = [consent("c1", 0), retraction("x1", 1, "c1", ONE, duress=True)]
    assert decide(*history).reasons == (R.no_statement,)


def test_retraction_on_the_same_day_as_its_target_takes_effect():
    assert decide(consent("c1", 3), retraction("x1", 3, "c1")).reasons == (R.no_statement,)


def test_retraction_of_a_later_statement_is_ignored():
    assert decide(consent("c1", 3), retraction("x1", 2, "c1")).eligible


def test_retraction_of_an_unknown_statement_is_ignored():
    assert decide(consent("c1", 3), retraction("x1", 4, "nobody")).eligible


def test_retraction_of_a_retraction_is_ignored():
    history = [refusal("r1", 0), retraction("x1", 1, "r1", TWO), retraction("x2", 2, "x1", TWO)]
    history.append(consent("c0", 0))
    # x2 does not bring r1 back; x1 still removes it; c0 (same day as r1) decides
    assert decide(*history).eligible
    # nor can a retraction undo the retraction of a consent
    history = [consent("c1", 0), retraction("x1", 1, "c1"), retraction("x2", 2, "x1", TWO)]
    assert decide(*history).reasons == (R.no_statement,)


def test_retraction_of_itself_is_ignored():
    assert decide(consent("c1", 0), retraction("x1", 1, "x1", TWO)).eligible


def test_retraction_said_after_as_of_is_not_seen():
    assert decide(consent("c1", 0), retraction("x1", 11, "c1"), as_of=10).eligible


def test_retractions_never_decide():
    decision = decide(consent("c1", 0), retraction("x1", 5, "nobody"))
    assert decision.deciding_statement_id == "c1"
    assert decide(retraction("x1", 5, "nobody")).reasons == (R.no_statement,)


# -- input handling -----------------------------------------------------------------------------


def test_any_iterable_is_accepted_once():
    statements = iter([consent("c1", 0), refusal("r1", 1)])
    assert evaluate(statements, "imprisoned", CONTEXT, DEFAULT, day(10)).reasons == (R.refused,)


def test_identical_duplicates_are_one_statement():
    assert decide(consent("c1", 0), consent("c1", 0)) == decide(consent("c1", 0))


def test_different_statements_with_one_id_are_refused():
    with pytest.raises(PolicyInputError, match="statement_id"):
        decide(consent("s1", 0), refusal("s1", 0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "Imprisoned"},
        {"status": None},
        {"context": object()},
        {"policy": object()},
        {"as_of": datetime.datetime(2024, 1, 10, tzinfo=datetime.UTC)},
        {"as_of": "2024-01-10"},
    ],
    ids=["status-case", "status-none", "context", "policy", "as_of-datetime", "as_of-str"],
)
def test_malformed_arguments_are_refused(kwargs):
    arguments = {"status": "imprisoned", "context": CONTEXT, "policy": DEFAULT, "as_of": day(1)}
    arguments.update(kwargs)
    with pytest.raises(PolicyInputError):
        evaluate([consent("c1", 0)], **arguments)


def test_non_statements_are_refused():
    with pytest.raises(PolicyInputError):
        evaluate([{"position": "consents"}], "imprisoned", CONTEXT, DEFAULT, day(1))  # type: ignore[list-item]


def test_decision_is_the_same_for_the_same_input():
    history = [consent("c1", 0), refusal("r1", 1), retraction("x1", 2, "r1", TWO)]
    assert decide(*history) == decide(*reversed(history))
    assert isinstance(decide(*history).reasons, tuple)


def test_statement_facts_datetime_is_refused():
    with pytest.raises(PolicyInputError):
        StatementFacts(
            "c1",
            "consents",
            datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            scope(),
            False,
            None,
            TWO,
        )
