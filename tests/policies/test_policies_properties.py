"""Properties of the eligibility engine over arbitrary statement histories.

Each property names the principle it protects. They were checked to fail against
deliberately broken engines (see the report that accompanied this file).
"""

from __future__ import annotations

import datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from policies_strategies import (
    ADVOCATES,
    ORGANISATIONS,
    PROPERTY,
    STATUSES,
    Case,
    any_cases,
    arbitrary_cases,
    boundary_cases,
    constructed_eligible_cases,
    contexts_st,
    histories,
    mixed_cases,
    policies_st,
    signer_st,
    signers_st,
    tied_cases,
)

from policies import Reason, Scope, Signer, StatementFacts, evaluate


def assert_names_policy(case: Case) -> None:
    decision = case.decide()
    assert decision.policy_id == case.policy.id
    assert decision.policy_sha256 == case.policy.sha256


# -- default deny ------------------------------------------------------------------------


@PROPERTY
@given(
    status=st.sampled_from(STATUSES),
    context=contexts_st,
    policy=policies_st,
    as_of=st.dates(),
)
def test_no_statement_is_never_eligible(status, context, policy, as_of):
    decision = evaluate([], status, context, policy, as_of)
    assert not decision.eligible
    assert Reason.no_statement in decision.reasons
    assert decision.deciding_statement_id is None


@PROPERTY
@given(case=arbitrary_cases(), data=st.data())
def test_history_without_consent_is_never_eligible(case, data):
    history = data.draw(histories(positions=("refuses", "withdraws", "retracts")))
    assert not case.decide(history).eligible


@PROPERTY
@given(case=mixed_cases, data=st.data())
def test_history_whose_consents_are_all_retracted_is_never_eligible(case, data):
    """One voice moves a person away: a one-signer retraction of each consent, however
    the rest of the history looks, leaves no effective consent."""
    retractions = [
        StatementFacts(
            f"r-{s.statement_id}",
            "retracts",
            s.stated_on + datetime.timedelta(days=data.draw(st.integers(0, 2))),
            None,
            data.draw(st.booleans()),
            s.statement_id,
            frozenset({data.draw(signer_st)}),
        )
        for s in case.statements
        if s.position == "consents"
    ]
    decision = case.decide([*case.statements, *retractions])
    # a retraction said after as_of is not yet seen; only then may a consent still stand
    if all(r.stated_on <= case.as_of for r in retractions):
        assert not decision.eligible


@PROPERTY
@given(case=st.one_of(boundary_cases("status"), arbitrary_cases()))
def test_not_imprisoned_always_excludes(case):
    decision = case.decide()
    if case.status != "imprisoned":
        assert not decision.eligible
        assert Reason.not_imprisoned in decision.reasons
    else:
        assert Reason.not_imprisoned not in decision.reasons


@PROPERTY
@given(case=constructed_eligible_cases(), status=st.sampled_from(STATUSES[1:]))
def test_eligible_history_is_excluded_for_any_other_status(case, status):
    assert case.decide().eligible
    decision = evaluate(case.statements, status, case.context, case.policy, case.as_of)
    assert not decision.eligible
    assert decision.reasons == (Reason.not_imprisoned,)


# -- one voice moves a person away ----------------------------------------------------------


@PROPERTY
@given(case=mixed_cases, data=st.data())
def test_later_refusal_or_withdrawal_makes_eligible_ineligible(case, data):
    """Appended on or after the deciding day (a refusal and a withdrawal on the same day:
    the refusal wins the tie)."""
    assume(case.decide().eligible)
    latest = max(s.stated_on for s in case.statements if s.stated_on <= case.as_of)
    on = latest + datetime.timedelta(days=data.draw(st.integers(0, (case.as_of - latest).days)))
    positions = data.draw(st.sampled_from([("refuses",), ("withdraws",), ("refuses", "withdraws")]))
    later = [
        StatementFacts(
            f"later-{position}",
            position,
            on,
            None,
            data.draw(st.booleans()),
            None,
            data.draw(signers_st),
        )
        for position in positions
    ]
    decision = case.decide([*case.statements, *data.draw(st.permutations(later))])
    assert not decision.eligible
    if "refuses" in positions:
        assert (decision.reasons, decision.deciding_statement_id) == (
            (Reason.refused,),
            "later-refuses",
        )
    else:
        assert (decision.reasons, decision.deciding_statement_id) == (
            (Reason.withdrawn,),
            "later-withdraws",
        )


@PROPERTY
@given(case=constructed_eligible_cases(), data=st.data())
def test_a_failing_consent_on_the_deciding_day_makes_eligible_ineligible(case, data):
    """Tied consents: default deny unless every one of them passes."""
    decision = case.decide()
    assert decision.eligible
    deciding = case.by_id(decision.deciding_statement_id)
    weak = StatementFacts(
        "weak-consent",
        "consents",
        deciding.stated_on,
        deciding.scope,
        False,
        None,
        frozenset({Signer(data.draw(st.sampled_from(ADVOCATES)), "o1")}),
    )
    after = case.decide([*case.statements, weak])
    assert not after.eligible
    assert after.reasons == (Reason.insufficient_signers,)
    assert after.deciding_statement_id == "weak-consent"


# -- two voices move a person toward a list --------------------------------------------------


def _remove_one_signer(case: Case, data: st.DataObject) -> list[StatementFacts]:
    candidates = [i for i, s in enumerate(case.statements) if len(s.signers) >= 2]
    assume(candidates)
    index = data.draw(st.sampled_from(candidates))
    target = case.statements[index]
    dropped = data.draw(
        st.sampled_from(sorted(target.signers, key=lambda s: (s.advocate_id, s.organisation_id)))
    )
    statements = list(case.statements)
    statements[index] = _replace(target, signers=target.signers - {dropped})
    return statements


def _replace(statement: StatementFacts, **changes: object) -> StatementFacts:
    fields = {
        "statement_id": statement.statement_id,
        "position": statement.position,
        "stated_on": statement.stated_on,
        "scope": statement.scope,
        "duress_concern": statement.duress_concern,
        "retracts": statement.retracts,
        "signers": statement.signers,
    }
    fields.update(changes)
    return StatementFacts(**fields)  # type: ignore[arg-type]


@PROPERTY
@given(case=st.one_of(boundary_cases("signers"), any_cases), data=st.data())
def test_removing_a_signature_never_makes_ineligible_eligible(case, data):
    before = case.decide()
    after = case.decide(_remove_one_signer(case, data))
    assert after.eligible <= before.eligible


@st.composite
def narrowed(draw: st.DrawFn, scope: Scope) -> Scope:
    """One step narrower than ``scope`` (or the same when it cannot narrow that way)."""
    step = draw(st.sampled_from(["transfer", "destination", "pardon", "documents", "family"]))
    transfers, destinations = scope.transfers, scope.destinations
    pardon = scope.accepts_pardon_petition
    documents = scope.requires_documents_returned
    family = scope.requires_family_may_accompany
    if step == "transfer" and len(transfers) > 1:
        transfers = frozenset({draw(st.sampled_from(sorted(transfers)))})
    elif step == "destination":
        if destinations == {"*"}:
            destinations = draw(
                st.frozensets(st.sampled_from(["DE", "LT", "PL", "FR"]), min_size=1)
            )
        elif len(destinations) > 1:
            destinations = destinations - {draw(st.sampled_from(sorted(destinations)))}
    elif step == "pardon":
        pardon = False
    elif step == "documents":
        documents = True
    elif step == "family":
        family = True
    return Scope(transfers, destinations, pardon, documents, family)


@PROPERTY
@given(case=st.one_of(boundary_cases("scope"), any_cases), data=st.data())
def test_narrowing_a_consent_scope_never_makes_ineligible_eligible(case, data):
    consents = [i for i, s in enumerate(case.statements) if s.position == "consents"]
    assume(consents)
    index = data.draw(st.sampled_from(consents))
    target = case.statements[index]
    assert target.scope is not None
    statements = list(case.statements)
    statements[index] = _replace(target, scope=data.draw(narrowed(target.scope)))
    assert case.decide(statements).eligible <= case.decide().eligible


@PROPERTY
@given(case=st.one_of(boundary_cases("signers"), any_cases))
def test_eligible_means_enough_distinct_signers(case):
    decision = case.decide()
    if decision.eligible:
        signers = case.by_id(decision.deciding_statement_id).signers
        minimum = case.policy.min_consent_signers
        assert len({s.advocate_id for s in signers}) >= minimum
        if case.policy.require_distinct_organisations:
            assert len({s.organisation_id for s in signers}) >= minimum


@PROPERTY
@given(case=constructed_eligible_cases(), data=st.data())
def test_consent_with_too_few_distinct_advocates_is_never_eligible(case, data):
    """Fewer than min distinct advocate_ids, however many Signer values (one advocate may
    appear under several organisation ids, or several keys collapse into one value)."""
    minimum = case.policy.min_consent_signers
    advocates = data.draw(st.permutations(ADVOCATES))[: data.draw(st.integers(1, minimum - 1))]
    signers = frozenset(
        Signer(advocate, organisation)
        for advocate in advocates
        for organisation in data.draw(st.frozensets(st.sampled_from(ORGANISATIONS), min_size=1))
    )
    good = case.by_id("good-consent")
    statements = [s for s in case.statements if s is not good]
    decision = case.decide([*statements, _replace(good, signers=signers)])
    assert not decision.eligible
    assert Reason.insufficient_signers in decision.reasons


@PROPERTY
@given(case=any_cases, data=st.data())
def test_underpowered_retraction_of_refusal_or_withdrawal_changes_nothing(case, data):
    negatives = [s for s in case.statements if s.position in ("refuses", "withdraws")]
    if not negatives or data.draw(st.booleans()):
        negatives.append(
            StatementFacts(
                "added-no",
                data.draw(st.sampled_from(["refuses", "withdraws"])),
                case.as_of - datetime.timedelta(days=data.draw(st.integers(0, 10))),
                None,
                False,
                None,
                data.draw(signers_st),
            )
        )
        case = case.with_statements([*case.statements, negatives[-1]])
    target = data.draw(st.sampled_from(negatives))
    minimum = case.policy.min_consent_signers
    if case.policy.require_distinct_organisations and data.draw(st.booleans()):
        # enough advocates, all from one organisation
        advocates = data.draw(st.permutations(ADVOCATES))[:minimum]
        signers = frozenset(Signer(a, "o1") for a in advocates)
    else:
        advocates = data.draw(st.permutations(ADVOCATES))[: data.draw(st.integers(1, minimum - 1))]
        signers = frozenset(
            Signer(a, o)
            for a in advocates
            for o in data.draw(st.frozensets(st.sampled_from(ORGANISATIONS), min_size=1))
        )
    weak = StatementFacts(
        "weak-retraction",
        "retracts",
        target.stated_on + datetime.timedelta(days=data.draw(st.integers(0, 5))),
        None,
        data.draw(st.booleans()),
        target.statement_id,
        signers,
    )
    assert case.decide([*case.statements, weak]) == case.decide()


@PROPERTY
@given(case=any_cases, data=st.data())
def test_retraction_said_before_its_target_changes_nothing(case, data):
    assume(case.statements)
    target = data.draw(st.sampled_from(case.statements))
    early = StatementFacts(
        "early-retraction",
        "retracts",
        target.stated_on - datetime.timedelta(days=data.draw(st.integers(1, 5))),
        None,
        False,
        target.statement_id,
        frozenset(Signer(a, o) for a, o in zip(ADVOCATES, ORGANISATIONS * 2, strict=False)),
    )
    assert case.decide([*case.statements, early]) == case.decide()


@PROPERTY
@given(case=any_cases, data=st.data())
def test_statements_said_after_as_of_change_nothing(case, data):
    """Any history, moved to start the day after as_of, is not seen yet."""
    future = data.draw(histories())
    assume(future)
    shift = datetime.timedelta(days=(case.as_of - min(s.stated_on for s in future)).days + 1)
    known = [s.statement_id for s in case.statements]
    later = [
        StatementFacts(
            f"future-{s.statement_id}",
            s.position,
            s.stated_on + shift,
            s.scope,
            s.duress_concern,
            None if s.retracts is None else data.draw(st.sampled_from([s.retracts, *known])),
            s.signers,
        )
        for s in future
    ]
    assert all(s.stated_on > case.as_of for s in later)
    assert case.decide([*case.statements, *later]) == case.decide()


# -- freshness and duress -------------------------------------------------------------------


@PROPERTY
@given(case=mixed_cases)
def test_eligible_becomes_stale_after_max_age_unless_a_newer_consent_exists(case):
    assume(case.decide().eligible)
    later = case.as_of + datetime.timedelta(days=case.policy.max_consent_age_days + 1)
    assume(
        not any(
            s.position == "consents" and case.as_of < s.stated_on <= later for s in case.statements
        )
    )
    decision = evaluate(case.statements, case.status, case.context, case.policy, later)
    assert not decision.eligible


@PROPERTY
@given(case=constructed_eligible_cases())
def test_duress_flag_on_the_deciding_consent_excludes(case):
    decision = case.decide()
    assert decision.eligible
    deciding = case.by_id(decision.deciding_statement_id)
    statements = [s for s in case.statements if s is not deciding]
    after = case.decide([*statements, _replace(deciding, duress_concern=True)])
    if case.policy.exclude_duress_concern:
        assert not after.eligible
        assert after.reasons == (Reason.duress_concern,)
    else:
        assert after.eligible


@PROPERTY
@given(case=st.one_of(boundary_cases("duress"), any_cases))
def test_eligible_consent_is_never_flagged_under_duress_when_excluded(case):
    decision = case.decide()
    if decision.eligible and case.policy.exclude_duress_concern:
        assert not case.by_id(decision.deciding_statement_id).duress_concern


# -- determinism and scope -------------------------------------------------------------------


@settings(PROPERTY, max_examples=1000)
@given(case=st.one_of(tied_cases, boundary_cases("ties"), any_cases), data=st.data())
def test_input_order_does_not_change_the_decision(case, data):
    shuffled = data.draw(st.permutations(case.statements))
    assert case.decide(shuffled) == case.decide()
    # an identical statement given twice is one statement
    assert case.decide([*shuffled, *case.statements]) == case.decide()
    assert_names_policy(case)


@settings(PROPERTY, max_examples=1000)
@given(case=st.one_of(boundary_cases("scope"), any_cases))
def test_eligible_means_the_deciding_scope_covers_every_term(case):
    decision = case.decide()
    if not decision.eligible:
        return
    scope = case.by_id(decision.deciding_statement_id).scope
    context = case.context
    assert scope is not None
    assert context.transfer in scope.transfers
    assert scope.destinations == {"*"} or context.destination in scope.destinations
    if context.requires_pardon_petition:
        assert scope.accepts_pardon_petition
    if scope.requires_documents_returned:
        assert context.documents_returned
    if scope.requires_family_may_accompany:
        assert context.family_may_accompany
    # and the deciding consent is fresh and was said by as_of
    deciding = case.by_id(decision.deciding_statement_id)
    assert 0 <= (case.as_of - deciding.stated_on).days <= case.policy.max_consent_age_days
