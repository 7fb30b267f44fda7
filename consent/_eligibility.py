"""From stored statements to decisions: the bridge between storage and the pure policy engine.

Signatures were verified when they were recorded. Before anyone is reported *eligible*, the
person's signers are derived again from the transparency log alone (the logged envelope or
corroboration, the key's logged registration, approval and revocation), so a row written
straight into the database, even a validly signed one that was never logged, cannot put
anyone on a list. (Rows that move a person *away* from a list need no such check: default
deny.)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from audit.storage import LogEntry
from consent._envelope import STATEMENT_PAYLOAD_TYPE, pae
from consent._keys import key_id_of, verify_ed25519
from consent._statements import StoredStatement
from policies import (
    Decision,
    ListContext,
    Policy,
    Reason,
    Scope,
    Signer,
    StatementFacts,
    evaluate,
)

__all__ = ["SignatureChecker", "decide", "evaluate_rows", "facts_of", "key_states"]


def facts_of(statement: StoredStatement, *,
             signers: frozenset[Signer] | None = None) -> StatementFacts:
    """Policy facts of a stored statement; ``signers`` replaces those the rows claim."""
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
    if signers is None:
        signers = frozenset(
            Signer(advocate_id=s.signer_user_id, organisation_id=s.signer_organisation_id)
            for s in statement.signatures)
    return StatementFacts(
        statement_id=statement.statement_id,
        position=body["position"],
        stated_on=dt.date.fromisoformat(body["stated_on"]),
        scope=scope,
        duress_concern=body["duress_concern"],
        retracts=body.get("retracts"),
        signers=signers,
    )


@dataclass(frozen=True, slots=True)
class _KeyState:
    public_key: bytes
    signer: Signer
    approved_at: int | None
    revoked_at: int | None


_KEY_TAGS = ("advocate:key:registered", "admin:key:approved", "admin:key:revoked")
_SIGNATURE_TAGS = ("advocate:statement:recorded", "advocate:statement:corroborated")


def _key_states(session: Session) -> dict[str, _KeyState]:
    """Key registrations, approvals and revocations as the log records them."""
    states: dict[str, _KeyState] = {}
    rows = session.execute(select(col(LogEntry.idx), col(LogEntry.leaf))
                           .where(col(LogEntry.tag).in_(_KEY_TAGS)).order_by(col(LogEntry.idx)))
    for idx, leaf in rows:
        try:
            event = json.loads(leaf)
            key_id, tag = event["key_id"], event["tag"]
            if tag == "advocate:key:registered":
                public = base64.b64decode(event["public_key"], validate=True)
                if key_id_of(public) == key_id and key_id not in states:
                    states[key_id] = _KeyState(public, Signer(event["user_id"],
                                               event["organisation_id"]), None, None)
            elif key_id in states:
                old = states[key_id]
                if tag == "admin:key:approved" and old.approved_at is None:
                    states[key_id] = _KeyState(old.public_key, old.signer, idx, old.revoked_at)
                elif tag == "admin:key:revoked" and old.revoked_at is None:
                    states[key_id] = _KeyState(old.public_key, old.signer, old.approved_at, idx)
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable event vouches for nothing
    return states


class SignatureChecker:
    """Re-derives a statement's signers from the log alone, not from the signature rows.

    A signature counts only if the log entry it names carries exactly that signature for
    that payload, the key's registration in the log verifies it, and the key was approved
    before and not revoked before that entry. The signer (advocate and organisation) is
    the one the key's registration names. Ed25519 answers are remembered; rows are not.
    """

    def __init__(self, verified: dict[tuple[bytes, bytes, bytes], bool] | None = None) -> None:
        # Ed25519 answers may be shared across requests; log leaves are read per request.
        self._verified = {} if verified is None else verified
        self._leaves: dict[int, bytes] = {}

    def prefetch(self, session: Session, statements: Iterable[StoredStatement]) -> None:
        """Fetch, in a few queries, the log entries these statements' signatures name."""
        wanted = sorted({s.log_index for st in statements for s in st.signatures
                         if s.log_index not in self._leaves})
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            self._leaves.update((idx, bytes(leaf)) for idx, leaf in session.execute(
                select(col(LogEntry.idx), col(LogEntry.leaf))
                .where(col(LogEntry.idx).in_(chunk))))

    def _verify(self, public: bytes, sig: bytes, message: bytes) -> bool:
        cache_key = (public, sig, hashlib.sha256(message).digest())
        if cache_key not in self._verified:
            self._verified[cache_key] = verify_ed25519(public, sig, message)
        return self._verified[cache_key]

    def signers(self, session: Session, statement: StoredStatement,
                keys: Mapping[str, _KeyState]) -> frozenset[Signer]:
        message = pae(STATEMENT_PAYLOAD_TYPE, statement.payload)
        self.prefetch(session, [statement])
        leaves = self._leaves
        good = set()
        for s in statement.signatures:
            state = keys.get(s.key_id)
            if state is None or state.approved_at is None or state.approved_at >= s.log_index:
                continue
            if state.revoked_at is not None and state.revoked_at < s.log_index:
                continue
            if not _logged(leaves.get(s.log_index), statement, s.key_id, s.sig):
                continue
            if self._verify(state.public_key, s.sig, message):
                good.add(state.signer)
        return frozenset(good)


def _logged(leaf: bytes | None, statement: StoredStatement, key_id: str, sig: bytes) -> bool:
    """Does this log entry record exactly this signature on exactly this payload?"""
    if leaf is None:
        return False
    try:
        event = json.loads(leaf)
        if event.get("tag") not in _SIGNATURE_TAGS:
            return False
        if event["statement_id"] != statement.statement_id:
            return False
        wanted = {"keyid": key_id, "sig": base64.b64encode(sig).decode("ascii")}
        if event["tag"] == "advocate:statement:recorded":
            envelope = event["envelope"]
            return bool(base64.b64decode(envelope["payload"]) == statement.payload
                        and wanted in envelope["signatures"])
        return bool(event["signature"] == wanted)
    except (ValueError, KeyError, TypeError):
        return False


def evaluate_rows(statements: Iterable[StoredStatement], status: str, context: ListContext,
                  policy: Policy, as_of: dt.date) -> Decision:
    """The decision the rows alone give: final when it says *not eligible*."""
    stored = list(statements)
    for s in stored:
        if not s.signatures:
            # Signature rows gone: the history is unreadable, so not eligible (principle 1).
            return _unreadable(s, policy)
    return evaluate([facts_of(s) for s in stored], status,  # type: ignore[arg-type]
                    context, policy, as_of)


def _unreadable(statement: StoredStatement, policy: Policy) -> Decision:
    return Decision(eligible=False, reasons=(Reason.insufficient_signers,),
                    deciding_statement_id=statement.statement_id, policy_id=policy.id,
                    policy_sha256=policy.sha256)


def decide(
    session: Session,
    checker: SignatureChecker,
    statements: Iterable[StoredStatement],
    status: str,
    context: ListContext,
    policy: Policy,
    as_of: dt.date,
    keys: Mapping[str, _KeyState] | None = None,
) -> Decision:
    """Evaluate from the rows; before answering *eligible*, evaluate again from the log."""
    stored = list(statements)
    decision = evaluate_rows(stored, status, context, policy, as_of)
    if not decision.eligible:
        return decision
    states = keys if keys is not None else _key_states(session)
    rechecked = []
    for s in stored:
        signers = checker.signers(session, s, states)
        if not signers:
            # A statement no logged signature vouches for is unreadable, and an unreadable
            # history is not eligible (principle 1). Dropping it instead could let a
            # rewritten refusal uncover an older consent.
            return _unreadable(s, policy)
        rechecked.append(facts_of(s, signers=signers))
    return evaluate(rechecked, status, context, policy, as_of)  # type: ignore[arg-type]


def key_states(session: Session) -> dict[str, _KeyState]:
    return _key_states(session)
