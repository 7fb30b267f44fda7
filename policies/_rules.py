"""Eligibility rules: small frozen values, each answering one question about one statement.

A rule has ``check(ctx) -> Reason | None``; ``None`` means the rule passes. ``AllOf`` and
``AnyOf`` combine rules; an empty combination raises ``PolicyError`` at construction, because
"all of nothing" would otherwise be a silent pass (compare sigstore-python's policy module).

The consent rules (``EnoughSigners``, ``Fresh``, ``NotUnderDuress``, ``ScopeCovers``) judge a
consent and pass on anything else: only ``HasConsent`` turns a missing statement, a refusal
or a withdrawal into a reason. Any rule set that means "eligible" must therefore include
``HasConsent``; ``rules_for`` always puts it first.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from policies._document import Policy
from policies._errors import PolicyError
from policies._model import (
    ANY_DESTINATION,
    ListContext,
    Reason,
    Scope,
    Signer,
    StatementFacts,
    Status,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "EnoughSigners",
    "Fresh",
    "HasConsent",
    "IsImprisoned",
    "NotUnderDuress",
    "Rule",
    "RuleInput",
    "ScopeCovers",
    "rules_for",
    "scope_covers",
    "signers_suffice",
]


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What a rule sees: the deciding statement (or ``None``), the person, the deal, the date."""

    statement: StatementFacts | None
    status: Status
    context: ListContext
    as_of: datetime.date


class Rule(Protocol):
    """Anything with ``check``. Rules are pure: same input, same answer."""

    def check(self, ctx: RuleInput) -> Reason | None: ...


def _consent(ctx: RuleInput) -> StatementFacts | None:
    statement = ctx.statement
    return statement if statement is not None and statement.position == "consents" else None


def signers_suffice(signers: Iterable[Signer], minimum: int, distinct_organisations: bool) -> bool:
    """At least ``minimum`` distinct advocates (and organisations, when required) signed."""
    signers = tuple(signers)
    advocates = len({signer.advocate_id for signer in signers})
    organisations = len({signer.organisation_id for signer in signers})
    return advocates >= minimum and (organisations >= minimum or not distinct_organisations)


def scope_covers(scope: Scope, context: ListContext) -> bool:
    """The consent's scope covers every term of the deal."""
    terms = (
        context.transfer in scope.transfers,
        scope.destinations == {ANY_DESTINATION} or context.destination in scope.destinations,
        scope.accepts_pardon_petition or not context.requires_pardon_petition,
        context.documents_returned or not scope.requires_documents_returned,
        context.family_may_accompany or not scope.requires_family_may_accompany,
    )
    return all(terms)


@dataclass(frozen=True, slots=True)
class IsImprisoned:
    """Only someone in prison can be exchanged."""

    def check(self, ctx: RuleInput) -> Reason | None:
        return None if ctx.status == "imprisoned" else Reason.not_imprisoned


@dataclass(frozen=True, slots=True)
class HasConsent:
    """The deciding statement exists and is a consent."""

    def check(self, ctx: RuleInput) -> Reason | None:
        statement = ctx.statement
        if statement is None:
            return Reason.no_statement
        if statement.position == "consents":
            return None
        if statement.position == "refuses":
            return Reason.refused
        if statement.position == "withdraws":
            return Reason.withdrawn
        return Reason.no_statement  # a retraction never decides; treat it as nothing said


@dataclass(frozen=True, slots=True)
class EnoughSigners:
    """The consent carries ``minimum`` distinct advocates (and organisations, if required)."""

    minimum: int
    distinct_organisations: bool

    def __post_init__(self) -> None:
        if isinstance(self.minimum, bool) or not isinstance(self.minimum, int) or self.minimum < 1:
            raise PolicyError("EnoughSigners.minimum must be an integer of at least 1")
        if not isinstance(self.distinct_organisations, bool):
            raise PolicyError("EnoughSigners.distinct_organisations must be a bool")

    def check(self, ctx: RuleInput) -> Reason | None:
        consent = _consent(ctx)
        if consent is None:
            return None
        if signers_suffice(consent.signers, self.minimum, self.distinct_organisations):
            return None
        return Reason.insufficient_signers


@dataclass(frozen=True, slots=True)
class Fresh:
    """The consent was stated no more than ``max_age_days`` days before ``as_of``."""

    max_age_days: int

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_age_days, bool)
            or not isinstance(self.max_age_days, int)
            or self.max_age_days < 0
        ):
            raise PolicyError("Fresh.max_age_days must be a non-negative integer")

    def check(self, ctx: RuleInput) -> Reason | None:
        consent = _consent(ctx)
        if consent is None:
            return None
        if (ctx.as_of - consent.stated_on).days > self.max_age_days:
            return Reason.stale
        return None


@dataclass(frozen=True, slots=True)
class NotUnderDuress:
    """The consent is not flagged ``duress_concern``."""

    def check(self, ctx: RuleInput) -> Reason | None:
        consent = _consent(ctx)
        if consent is not None and consent.duress_concern:
            return Reason.duress_concern
        return None


@dataclass(frozen=True, slots=True)
class ScopeCovers:
    """The consent's scope covers the list context (see ``scope_covers``)."""

    def check(self, ctx: RuleInput) -> Reason | None:
        consent = _consent(ctx)
        if consent is None or consent.scope is None:
            return None  # scope is never None on a consent; StatementFacts guarantees it
        return None if scope_covers(consent.scope, ctx.context) else Reason.out_of_scope


def _checked(combinator: str, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    if not rules:
        raise PolicyError(
            f"{combinator}() needs at least one rule: an empty combination never passes"
        )
    for rule in rules:
        if not callable(getattr(rule, "check", None)):
            raise PolicyError(f"{combinator}() takes rules: values with a check(ctx) method")
    return rules


@dataclass(frozen=True, slots=True, init=False)
class AllOf:
    """Logical AND. ``failures`` collects every failing reason, in rule order, once each."""

    rules: tuple[Rule, ...]

    def __init__(self, *rules: Rule) -> None:
        object.__setattr__(self, "rules", _checked("AllOf", rules))

    def failures(self, ctx: RuleInput) -> tuple[Reason, ...]:
        found: list[Reason] = []
        for rule in self.rules:
            if isinstance(rule, AllOf):
                reasons = rule.failures(ctx)
            else:
                reason = rule.check(ctx)
                reasons = () if reason is None else (reason,)
            found.extend(reason for reason in reasons if reason not in found)
        return tuple(found)

    def check(self, ctx: RuleInput) -> Reason | None:
        found = self.failures(ctx)
        return found[0] if found else None


@dataclass(frozen=True, slots=True, init=False)
class AnyOf:
    """Logical OR: passes when one rule passes, else fails with the first rule's reason."""

    rules: tuple[Rule, ...]

    def __init__(self, *rules: Rule) -> None:
        object.__setattr__(self, "rules", _checked("AnyOf", rules))

    def check(self, ctx: RuleInput) -> Reason | None:
        first: Reason | None = None
        for rule in self.rules:
            reason = rule.check(ctx)
            if reason is None:
                return None
            if first is None:
                first = reason
        return first


@lru_cache(maxsize=32)
def rules_for(policy: Policy) -> AllOf:
    """The rule set a policy stands for; reasons come out in ``Reason`` declaration order.

    Cached: a policy and its rules are immutable values."""
    rules: list[Rule] = [
        HasConsent(),
        EnoughSigners(policy.min_consent_signers, policy.require_distinct_organisations),
        Fresh(policy.max_consent_age_days),
        ScopeCovers(),
    ]
    if policy.exclude_duress_concern:
        rules.append(NotUnderDuress())
    rules.append(IsImprisoned())
    return AllOf(*rules)
