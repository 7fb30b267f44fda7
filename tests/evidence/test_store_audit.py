"""The crash test's "nothing is half-written" check has teeth: each kind of partial or
rewritten write that a crash or an intruder could leave behind is caught."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

import audit
from audit.storage import LogEntry, LogHead, LogNode
from consent import build_payload, sign_envelope
from consent._tables import Person, Statement, StatementSignature
from tests.evidence.helpers import Instance, audit_store


def _populate(inst: Instance) -> list[str]:
    svc = inst.service
    today = dt.datetime.now(dt.UTC).date()
    ids = []
    for n in range(2):
        person = svc.register_person(inst.alice, full_name=f"Person {n}")
        previous = None
        for position in ("refuses", "consents"):
            payload = build_payload(
                person_id=person.id, commitment=person.commitment, position=position,
                stated_on=today, channel="letter", previous=previous,
                scope={"transfers": ["exchange"], "destinations": ["*"],
                       "accepts_pardon_petition": False, "requires_documents_returned": False,
                       "requires_family_may_accompany": False}
                if position == "consents" else None, today=today)
            receipt = svc.record_statement(inst.alice, sign_envelope(payload, inst.alice_key))
            previous = receipt.statement_id
            ids.append(previous)
    return ids


def _last_entry(s: Session) -> None:
    size = s.execute(select(LogHead.size)).scalar_one()
    s.execute(delete(LogEntry).where(LogEntry.idx == size - 1))


def _a_node(s: Session) -> None:
    s.execute(delete(LogNode).where(LogNode.level == 1, LogNode.idx == 0))


def _head_ahead(s: Session) -> None:
    s.execute(update(LogHead).values(size=LogHead.size + 1))


def _statement_row(s: Session) -> None:
    sid = s.execute(select(Statement.id).order_by(Statement.log_index.desc())).scalars().first()
    s.execute(update(Person).where(Person.latest_statement_id == sid)
              .values(latest_statement_id=select(Statement.previous)
                      .where(Statement.id == sid).scalar_subquery()))
    s.execute(delete(StatementSignature).where(StatementSignature.statement_id == sid))
    s.execute(delete(Statement).where(Statement.id == sid))


def _signature_row(s: Session) -> None:
    first = s.execute(select(func.min(StatementSignature.id))).scalar_one()
    s.execute(delete(StatementSignature).where(StatementSignature.id == first))


def _chain_head(s: Session) -> None:
    sid = s.execute(select(Statement.id).where(Statement.previous.is_(None))).scalars().first()
    s.execute(update(Person).where(Person.latest_statement_id.is_not(None))
              .values(latest_statement_id=sid))


def _stored_payload(s: Session) -> None:
    sid = s.execute(select(Statement.id)).scalars().first()
    payload = s.execute(select(Statement.payload).where(Statement.id == sid)).scalar_one()
    s.execute(update(Statement).where(Statement.id == sid)
              .values(payload=bytes(payload).replace(b"letter", b"lettre")))


def _leaf_rewritten(s: Session) -> None:
    leaf = bytes(s.execute(select(LogEntry.leaf).where(LogEntry.idx == 3)).scalar_one())
    s.execute(update(LogEntry).where(LogEntry.idx == 3)
              .values(leaf=leaf.replace(b'"tag"', b'"tag" ')))


@pytest.mark.parametrize("corrupt", [
    _last_entry, _a_node, _head_ahead, _statement_row, _signature_row, _chain_head,
    _stored_payload, _leaf_rewritten,
], ids=lambda f: f.__name__.strip("_"))
def test_audit_store_catches(instance: Instance, corrupt: Callable[[Session], None]) -> None:
    _populate(instance)
    audit_store(instance.service, instance.auditor)  # sound before
    with instance.service.db.write() as session:
        corrupt(session)
    with pytest.raises((AssertionError, audit.AuditError)) as caught:
        audit_store(instance.service, instance.auditor)
    print(corrupt.__name__, "->", caught.value)
