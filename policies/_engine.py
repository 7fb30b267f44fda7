"""The eligibility engine: a pure function of (statements, status, context, policy, as_of).

Read top to bottom, ``evaluate`` is DESIGN §6 and principle 2:

1. Statements stated after ``as_of`` are not seen.
2. Retractions are applied. One voice moves a person away from a list, two move them
   toward it: retracting a consent takes one signer; retracting a refusal or a withdrawal
   takes ``min_consent_signers`` distinct advocates (and organisations, when the policy
   says so) and, under a policy that excludes duress, no ``duress_concern`` flag. A
   retraction aimed at a retraction, at an unknown statement or at a statement said after
   it does nothing. Retracted statements are not seen; retractions never decide.
3. The deciding statement is the latest remaining one by ``stated_on``; on a tie a refusal
   beats a withdrawal beats a consent. Consents tied on the latest day must all pass
   (default deny); the first failing one by ``statement_id`` is named.
4. The policy's rules turn the deciding statement into reasons; no reasons means eligible.

Nothing here depends on the order of the input.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from policies._document import Policy
from policies._errors import PolicyInputError
from policies._model import STATUSES, Decision, ListContext, Reason, StatementFacts, Status
from policies._rules import RuleInput, rules_for, signers_suffice

__all__ = ["evaluate"]

# On the same day, the position that moves a person further from a list wins.
_TIE_ORDER = ("refuses", "withdraws", "consents")


def _index(statements: Iterable[StatementFacts]) -> dict[str, StatementFacts]:
    by_id: dict[str, StatementFacts] = {}
    for statement in statements:
        if not isinstance(statement, StatementFacts):
            raise PolicyInputError("statements must be StatementFacts values")
        kept = by_id.setdefault(statement.statement_id, statement)
        if kept is not statement and kept != statement:
            raise PolicyInputError("two different statements share one statement_id")
    return by_id


def _retraction_takes_effect(
    retraction: StatementFacts, target: StatementFacts, policy: Policy
) -> bool:
    if target.position == "retracts" or target.stated_on > retraction.stated_on:
        return False
    if target.position == "consents":
        return len(retraction.signers) >= 1  # one voice moves a person away from a list
    # target refuses or withdraws: two voices are needed to move a person toward a list
    if policy.exclude_duress_concern and retraction.duress_concern:
        return False
    return signers_suffice(
        retraction.signers, policy.min_consent_signers, policy.require_distinct_organisations
    )


def _retracted_ids(seen: dict[str, StatementFacts], policy: Policy) -> set[str]:
    retracted: set[str] = set()
    for retraction in seen.values():
        if retraction.position != "retracts" or retraction.retracts is None:
            continue
        target = seen.get(retraction.retracts)
        if target is not None and _retraction_takes_effect(retraction, target, policy):
            retracted.add(target.statement_id)
    return retracted


def _decision(
    reasons: tuple[Reason, ...], statement: StatementFacts | None, policy: Policy
) -> Decision:
    return Decision(
        eligible=not reasons,
        reasons=reasons,
        deciding_statement_id=None if statement is None else statement.statement_id,
        policy_id=policy.id,
        policy_sha256=policy.sha256,
    )


def evaluate(
    statements: Iterable[StatementFacts],
    status: Status,
    context: ListContext,
    policy: Policy,
    as_of: datetime.date,
) -> Decision:
    """Decide whether one person is eligible for a list context under a policy, at a date.

    ``statements`` are that person's statements whose signers the caller has verified.
    Raises ``PolicyInputError`` on malformed arguments, or when two different statements
    share a ``statement_id``.
    """
    if status not in STATUSES:
        raise PolicyInputError("status must be one of " + ", ".join(sorted(STATUSES)))
    if not isinstance(context, ListContext):
        raise PolicyInputError("context must be a ListContext")
    if not isinstance(policy, Policy):
        raise PolicyInputError("policy must be a Policy")
    if not isinstance(as_of, datetime.date) or isinstance(as_of, datetime.datetime):
        raise PolicyInputError("as_of must be a datetime.date (not a datetime)")

    rules = rules_for(policy)

    def judge(statement: StatementFacts | None) -> tuple[Reason, ...]:
        return rules.failures(RuleInput(statement, status, context, as_of))

    # 1. Only what was said on or before as_of.
    seen = {sid: s for sid, s in _index(statements).items() if s.stated_on <= as_of}
    # 2. Retractions.
    retracted = _retracted_ids(seen, policy)
    standing = [
        s for s in seen.values() if s.position != "retracts" and s.statement_id not in retracted
    ]
    if not standing:
        return _decision(judge(None), None, policy)

    # 3. The latest day, then the tie order, then statement_id: independent of input order.
    latest = max(s.stated_on for s in standing)
    tied = sorted((s for s in standing if s.stated_on == latest), key=lambda s: s.statement_id)
    for position in _TIE_ORDER:
        group = [s for s in tied if s.position == position]
        if not group:
            continue
        if position != "consents":
            return _decision(judge(group[0]), group[0], policy)
        # 4. Several consents on one day: eligible only if every one of them would be.
        for consent in group:
            reasons = judge(consent)
            if reasons:
                return _decision(reasons, consent, policy)
        return _decision((), group[0], policy)
    raise AssertionError("unreachable: every standing statement has a tie-order position")
