"""Fill an instance with persons and signed statements, through the service's own code.

Each person gets a chain of statements (refusals, withdrawals, consents signed by one or two
advocates of different organisations), written with the same functions the service uses
(verification, storage, a log append per write), many writes per transaction to keep the
set-up time bounded. Signing happens here, as on the advocates' machines.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import Actor, ConsentService, canonical_bytes, sign_envelope
from consent import _statements as core_statements
from consent._persons import parse_identity
from consent._statement import STATEMENT_TYPE

SCOPE_WIDE = {"transfers": ["exchange", "expulsion"], "destinations": ["*"],
              "accepts_pardon_petition": False, "requires_documents_returned": False,
              "requires_family_may_accompany": False}
SCOPE_DE = {"transfers": ["exchange"], "destinations": ["DE", "LT"],
            "accepts_pardon_petition": False, "requires_documents_returned": True,
            "requires_family_may_accompany": False}


def _payload(person: Any, position: str, stated_on: dt.date, previous: str | None,
             scope: dict[str, Any] | None) -> bytes:
    body: dict[str, Any] = {
        "type": STATEMENT_TYPE, "person": {"id": person.id, "commitment": person.commitment},
        "position": position, "stated_on": stated_on.isoformat(), "channel": "lawyer_visit",
        "evidence": [], "duress_concern": False, "previous": previous}
    if scope is not None:
        body["scope"] = scope
    return canonical_bytes(body)


_SYLLABLES = ("ba", "ke", "mi", "no", "pu", "ra", "se", "to", "vu", "le")


def person_name(n: int) -> str:
    """A distinct name per number. Digits would not do: the blind index's normalisation
    squashes doubled characters, digits included, so "Prisoner 1" meets "Prisoner 11"."""
    word = "".join(_SYLLABLES[int(d)] for d in str(n))
    return f"{word.capitalize()} Benchmarkov"


def _chain(rng: random.Random, length: int) -> list[tuple[str, int]]:
    """(position, signer count) for one person's statements, oldest first."""
    out = []
    for n in range(length):
        roll = rng.random()
        if n == length - 1:  # the deciding statement
            if roll < 0.5:
                out.append(("consents", 2))  # eligible (if in scope)
            elif roll < 0.6:
                out.append(("consents", 1))  # one voice is not enough
            else:
                out.append(("refuses" if roll < 0.85 else "withdraws", 1))
        elif roll < 0.4:
            out.append(("refuses", 1))
        elif roll < 0.55:
            out.append(("withdraws", 1))
        else:
            out.append(("consents", 2))
    return out


def populate(service: ConsentService, alice: Actor, bob: Actor, alice_key: Ed25519PrivateKey,
             bob_key: Ed25519PrivateKey, *, persons: int, statements: int, seed: int = 7,
             batch: int = 250, progress: Callable[[str], None] | None = None) -> list[str]:
    """Register ``persons`` persons and record ``statements`` statements among them."""
    rng = random.Random(seed)
    today = service.today()
    per_person = [statements // persons] * persons
    for i in range(statements - sum(per_person)):
        per_person[i] += 1
    ids: list[str] = []
    started = time.perf_counter()
    for start in range(0, persons, batch):
        with service.transaction() as tx:
            records = []
            for n in range(start, min(persons, start + batch)):
                identity = parse_identity(person_name(n), "1970-01-01", (), None,
                                          today=today)
                records.append(service.persons.register(tx, alice, identity, "imprisoned"))
            for offset, person in enumerate(records):
                previous = None
                chain = _chain(rng, per_person[start + offset])
                for k, (position, signers) in enumerate(chain):
                    stated_on = today - dt.timedelta(days=170 - 160 * (k + 1) // len(chain))
                    scope = (SCOPE_WIDE if rng.random() < 0.7 else SCOPE_DE) \
                        if position == "consents" else None
                    payload = _payload(person, position, stated_on, previous, scope)
                    keys = [alice_key, bob_key][:signers]
                    recorded = core_statements.record_statement(tx, alice,
                                                                sign_envelope(payload, *keys))
                    previous = recorded.statement_id
                ids.append(person.id)
        if progress is not None and (start // batch) % 8 == 0:
            rate = len(ids) / (time.perf_counter() - started)
            progress(f"  populated {len(ids)}/{persons} persons ({rate:.0f}/s)")
    return ids
