"""Eligibility: who may be put on an exchange list, under which policy (DESIGN §3, §6).

A pure package: no clock, no randomness, no I/O beyond reading the bundled policy
documents, and no imports from the rest of the project. Time (``as_of``) is a parameter.

    from policies import default_policy, evaluate

    decision = evaluate(statements, "imprisoned", context, default_policy(), as_of)
    # decision.eligible, decision.reasons, decision.policy_sha256, ...
"""

from policies._document import (
    DEFAULT_POLICY_ID,
    Policy,
    bundled_policy,
    default_policy,
    parse_policy,
)
from policies._engine import evaluate
from policies._errors import PolicyDocumentError, PolicyError, PolicyInputError, PolicyNotFound
from policies._model import (
    Decision,
    ListContext,
    Position,
    Reason,
    Scope,
    Signer,
    StatementFacts,
    Status,
    Transfer,
)
from policies._rules import (
    AllOf,
    AnyOf,
    EnoughSigners,
    Fresh,
    HasConsent,
    IsImprisoned,
    NotUnderDuress,
    Rule,
    RuleInput,
    ScopeCovers,
    rules_for,
)

__all__ = [
    "DEFAULT_POLICY_ID",
    "AllOf",
    "AnyOf",
    "Decision",
    "EnoughSigners",
    "Fresh",
    "HasConsent",
    "IsImprisoned",
    "ListContext",
    "NotUnderDuress",
    "Policy",
    "PolicyDocumentError",
    "PolicyError",
    "PolicyInputError",
    "PolicyNotFound",
    "Position",
    "Reason",
    "Rule",
    "RuleInput",
    "Scope",
    "ScopeCovers",
    "Signer",
    "StatementFacts",
    "Status",
    "Transfer",
    "bundled_policy",
    "default_policy",
    "evaluate",
    "parse_policy",
    "rules_for",
]
