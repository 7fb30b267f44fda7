"""From stored statements to decisions: the bridge between storage and the pure policy engine.

Signatures were verified when they were recorded. Before anyone is reported *eligible*, the
signatures on that person's statements are verified again against the stored public keys, so
a signature row forged straight into the database cannot put anyone on a list. (Rows that
move a person *away* from a list need no such check: default deny.)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlmodel import Session, col

from consent._envelope import STATEMENT_PAYLOAD_TYPE, pae
from consent._keys import verify_ed25519
from consent._statements import StoredStatement
from consent._tables import AdvocateKey
from policies import Decision, ListContext, Policy, Scope, Signer, StatementFacts, evaluate

__all__ = ["SignatureChecker", "decide", "facts_of"]


def facts_of(statement: StoredStatement, *, valid: frozenset[str] | None = None) -> StatementFacts:
    """Policy facts of a stored statement; ``valid`` restricts the signatures that count."""
    body = json.loads(statement.payload)
    scope = None
    if body["position"] == "consents":
        raw = body["scope"]
        scope = Scope(
            transfers=frozenset(raw["transfers"]),
            destinations=frozenset(raw["destinations"]),
            accepts_pardon_petition=raw["accepts_pardon_petition"],
            requires_documents_returned=raw["requires_documents_returned"],
            requires_family_may_accompany=raw["requires_family_may_accompany"],
        )
    signers = frozenset(
        Signer(advocate_id=s.signer_user_id, organisation_id=s.signer_organisation_id)
        for s in statement.signatures if valid is None or s.key_id in valid
    )
    return StatementFacts(
        statement_id=statement.statement_id,
        position=body["position"],
        stated_on=dt.date.fromisoformat(body["stated_on"]),
        scope=scope,
        duress_concern=body["duress_concern"],
        retracts=body.get("retracts"),
        signers=signers,
    )


class SignatureChecker:
    """Re-verifies stored signatures against stored public keys, remembering the answers."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, bytes], bool] = {}

    def valid_keys(self, session: Session, statement: StoredStatement,
                   keys: Mapping[str, bytes] | None = None) -> frozenset[str]:
        message = pae(STATEMENT_PAYLOAD_TYPE, statement.payload)
        if keys is None:
            wanted = [s.key_id for s in statement.signatures]
            keys = {k: bytes(p) for k, p in session.execute(
                select(col(AdvocateKey.key_id), col(AdvocateKey.public_key))
                .where(col(AdvocateKey.key_id).in_(wanted)))}
        good = set()
        for s in statement.signatures:
            cache_key = (statement.statement_id, s.key_id, s.sig)
            if cache_key not in self._seen:
                public = keys.get(s.key_id)
                self._seen[cache_key] = public is not None and verify_ed25519(public, s.sig,
                                                                              message)
            if self._seen[cache_key]:
                good.add(s.key_id)
        return frozenset(good)


def decide(
    session: Session,
    checker: SignatureChecker,
    statements: Iterable[StoredStatement],
    status: str,
    context: ListContext,
    policy: Policy,
    as_of: dt.date,
    keys: Mapping[str, bytes] | None = None,
) -> Decision:
    stored = list(statements)
    decision = evaluate([facts_of(s) for s in stored], status,  # type: ignore[arg-type]
                        context, policy, as_of)
    if not decision.eligible:
        return decision
    rechecked = [facts_of(s, valid=checker.valid_keys(session, s, keys)) for s in stored]
    return evaluate(rechecked, status, context, policy, as_of)  # type: ignore[arg-type]
