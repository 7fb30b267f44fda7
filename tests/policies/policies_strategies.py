"""Builders and hypothesis strategies shared by the policies tests."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from policies import (
    Decision,
    ListContext,
    Policy,
    Scope,
    Signer,
    StatementFacts,
    Status,
    default_policy,
    evaluate,
    parse_policy,
)

T = TypeVar("T")

# No wall-clock limits in tests (CONTRIBUTING): hypothesis' per-example deadline is off.
PROPERTY = settings(
    deadline=None, max_examples=300, suppress_health_check=[HealthCheck.filter_too_much]
)

D0 = datetime.date(2024, 1, 1)
ADVOCATES = ("a1", "a2", "a3", "a4")
ORGANISATIONS = ("o1", "o2", "o3")
COUNTRIES = ("DE", "LT", "PL", "FR")
TRANSFERS = ("exchange", "expulsion")
STATUSES: tuple[Status, ...] = ("imprisoned", "released", "deceased", "unknown")
ANY = frozenset({"*"})


def day(n: int) -> datetime.date:
    return D0 + datetime.timedelta(days=n)


def signer(advocate: str, organisation: str = "o1") -> Signer:
    return Signer(advocate, organisation)


def signed_by(*advocates: str, organisation: str = "o1") -> frozenset[Signer]:
    """Signers, each ``advocate`` or ``advocate@organisation``."""
    out = set()
    for name in advocates:
        advocate, _, org = name.partition("@")
        out.add(Signer(advocate, org or organisation))
    return frozenset(out)


TWO = signed_by("a1", "a2")
ONE = signed_by("a1")


def scope(
    transfers: Iterable[str] = TRANSFERS,
    destinations: Iterable[str] = ("*",),
    *,
    pardon: bool = False,
    documents: bool = False,
    family: bool = False,
) -> Scope:
    return Scope(frozenset(transfers), frozenset(destinations), pardon, documents, family)


def consent(
    sid: str,
    on: int | datetime.date,
    signers: frozenset[Signer] = TWO,
    *,
    within: Scope | None = None,
    duress: bool = False,
) -> StatementFacts:
    stated = day(on) if isinstance(on, int) else on
    return StatementFacts(
        sid, "consents", stated, within or scope(), duress, None, frozenset(signers)
    )


def refusal(
    sid: str, on: int | datetime.date, signers: frozenset[Signer] = ONE, *, duress: bool = False
) -> StatementFacts:
    stated = day(on) if isinstance(on, int) else on
    return StatementFacts(sid, "refuses", stated, None, duress, None, frozenset(signers))


def withdrawal(
    sid: str, on: int | datetime.date, signers: frozenset[Signer] = ONE, *, duress: bool = False
) -> StatementFacts:
    stated = day(on) if isinstance(on, int) else on
    return StatementFacts(sid, "withdraws", stated, None, duress, None, frozenset(signers))


def retraction(
    sid: str,
    on: int | datetime.date,
    target: str,
    signers: frozenset[Signer] = ONE,
    *,
    duress: bool = False,
) -> StatementFacts:
    stated = day(on) if isinstance(on, int) else on
    return StatementFacts(sid, "retracts", stated, None, duress, target, frozenset(signers))


CONTEXT = ListContext("exchange", "DE", False, False, False)


def policy_text(
    *,
    policy_id: str = "test-policy",
    version: int = 1,
    min_signers: int = 2,
    distinct: bool = False,
    max_age: int = 180,
    exclude: bool = True,
) -> str:
    return (
        f'id = "{policy_id}"\n'
        f"version = {version}\n"
        "[parameters]\n"
        f"min_consent_signers = {min_signers}\n"
        f"require_distinct_organisations = {str(distinct).lower()}\n"
        f"max_consent_age_days = {max_age}\n"
        f"exclude_duress_concern = {str(exclude).lower()}\n"
    )


@functools.cache
def make_policy(
    min_signers: int = 2, distinct: bool = False, max_age: int = 180, exclude: bool = True
) -> Policy:
    return parse_policy(
        policy_text(
            min_signers=min_signers, distinct=distinct, max_age=max_age, exclude=exclude
        ).encode()
    )


DEFAULT = default_policy()

# ---------------------------------------------------------------------------------------
# strategies

signer_st = st.builds(Signer, st.sampled_from(ADVOCATES), st.sampled_from(ORGANISATIONS))
signers_st = st.frozensets(signer_st, min_size=1, max_size=4)
scopes_st = st.builds(
    Scope,
    transfers=st.frozensets(st.sampled_from(TRANSFERS), min_size=1),
    destinations=st.one_of(st.just(ANY), st.frozensets(st.sampled_from(COUNTRIES), min_size=1)),
    accepts_pardon_petition=st.booleans(),
    requires_documents_returned=st.booleans(),
    requires_family_may_accompany=st.booleans(),
)
contexts_st = st.builds(
    ListContext,
    transfer=st.sampled_from(TRANSFERS),
    destination=st.sampled_from(COUNTRIES),
    requires_pardon_petition=st.booleans(),
    documents_returned=st.booleans(),
    family_may_accompany=st.booleans(),
)
policies_st = st.one_of(
    st.just(DEFAULT),
    st.builds(
        make_policy,
        min_signers=st.integers(2, 3),
        distinct=st.booleans(),
        max_age=st.sampled_from([1, 30, 180]),
        exclude=st.booleans(),
    ),
)
# Duress is rarer than not, so that consents that pass are common enough.
duress_st = st.sampled_from([False, False, False, True])
ids_alphabet = "0123456789abcdef"
LAST_DAY = 60  # statements are stated on day(0) .. day(LAST_DAY)
# Half the dates cluster on the last two days, so that ties on the deciding day are common.
days_st = st.one_of(st.integers(0, LAST_DAY), st.sampled_from((LAST_DAY - 1, LAST_DAY)))


@st.composite
def histories(
    draw: st.DrawFn,
    positions: Sequence[str] = ("consents", "refuses", "withdraws", "retracts"),
    max_size: int = 8,
    days: st.SearchStrategy[int] = days_st,
    min_size: int = 0,
) -> list[StatementFacts]:
    """Arbitrary histories: any positions, dates, signers, scopes, and retraction targets
    (earlier, later, itself, a retraction, or an id nobody has)."""
    ids = draw(
        st.lists(
            st.text(ids_alphabet, min_size=4, max_size=4),
            min_size=min_size,
            max_size=max_size,
            unique=True,
        )
    )
    out: list[StatementFacts] = []
    for sid in ids:
        position = draw(st.sampled_from(positions))
        on = day(draw(days))
        signers = draw(signers_st)
        duress = draw(duress_st)
        if position == "consents":
            out.append(StatementFacts(sid, "consents", on, draw(scopes_st), duress, None, signers))
        elif position == "retracts":
            target = draw(st.sampled_from([*ids, "nobody"]))
            out.append(StatementFacts(sid, "retracts", on, None, duress, target, signers))
        else:
            out.append(StatementFacts(sid, position, on, None, duress, None, signers))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class Case:
    statements: tuple[StatementFacts, ...]
    status: Status
    context: ListContext
    policy: Policy
    as_of: datetime.date

    def decide(self, statements: Iterable[StatementFacts] | None = None) -> Decision:
        chosen = self.statements if statements is None else statements
        return evaluate(chosen, self.status, self.context, self.policy, self.as_of)

    def with_statements(self, statements: Iterable[StatementFacts]) -> Case:
        return replace(self, statements=tuple(statements))

    def by_id(self, sid: str | None) -> StatementFacts:
        (found,) = (s for s in self.statements if s.statement_id == sid)
        return found


@st.composite
def arbitrary_cases(
    draw: st.DrawFn,
    status: st.SearchStrategy[Status] | None = None,
    days: st.SearchStrategy[int] = days_st,
    as_of: st.SearchStrategy[int] = st.integers(0, LAST_DAY + 30),
    min_size: int = 0,
) -> Case:
    return Case(
        statements=tuple(draw(histories(days=days, min_size=min_size))),
        status=draw(status if status is not None else st.sampled_from(STATUSES)),
        context=draw(contexts_st),
        policy=draw(policies_st),
        as_of=day(draw(as_of)),
    )


# Every statement on one of two days, all of them seen: ties everywhere.
tied_cases = arbitrary_cases(
    status=st.just("imprisoned"),
    days=st.sampled_from((LAST_DAY - 1, LAST_DAY)),
    as_of=st.integers(LAST_DAY, LAST_DAY + 10),
    min_size=3,
)


@st.composite
def covering_scopes(draw: st.DrawFn, context: ListContext) -> Scope:
    """A scope that covers ``context``, with arbitrary extra breadth."""
    transfers = draw(st.frozensets(st.sampled_from(TRANSFERS))) | {context.transfer}
    destinations = draw(
        st.one_of(
            st.just(ANY),
            st.frozensets(st.sampled_from(COUNTRIES)).map(lambda d: d | {context.destination}),
        )
    )
    return Scope(
        frozenset(transfers),
        destinations,
        accepts_pardon_petition=context.requires_pardon_petition or draw(st.booleans()),
        requires_documents_returned=context.documents_returned and draw(st.booleans()),
        requires_family_may_accompany=context.family_may_accompany and draw(st.booleans()),
    )


@st.composite
def near_miss_scopes(draw: st.DrawFn, context: ListContext) -> Scope:
    """A covering scope with exactly one term broken: each term's check gets exercised."""
    good = draw(covering_scopes(context))
    breakable = ["transfer", "destination"]
    if context.requires_pardon_petition:
        breakable.append("pardon")
    if not context.documents_returned:
        breakable.append("documents")
    if not context.family_may_accompany:
        breakable.append("family")
    term = draw(st.sampled_from(breakable))
    if term == "transfer":
        other = next(t for t in TRANSFERS if t != context.transfer)
        return replace(good, transfers=frozenset({other}))
    if term == "destination":
        elsewhere = sorted(c for c in COUNTRIES if c != context.destination)
        return replace(
            good, destinations=draw(st.frozensets(st.sampled_from(elsewhere), min_size=1))
        )
    if term == "pardon":
        return replace(good, accepts_pardon_petition=False)
    if term == "documents":
        return replace(good, requires_documents_returned=True)
    return replace(good, requires_family_may_accompany=True)


@st.composite
def enough_signers(draw: st.DrawFn, policy: Policy) -> frozenset[Signer]:
    """At least ``min_consent_signers`` distinct advocates in distinct organisations."""
    n = policy.min_consent_signers
    advocates = draw(st.permutations(ADVOCATES))[: draw(st.integers(n, len(ADVOCATES)))]
    organisations = draw(st.permutations(ORGANISATIONS))
    return frozenset(
        Signer(advocate, organisations[i % len(organisations)])
        for i, advocate in enumerate(advocates)
    )


LOOSENABLE = ("scope", "signers", "duress", "age", "status", "ties")


def _final_consent_case(draw: st.DrawFn, loosen: frozenset[str]) -> Case:
    """An arbitrary history, then one more consent on or after its last day.

    Every condition of eligibility holds for that consent and the person, except those
    named in ``loosen``, which hold only sometimes ("ties": same-day statements may stay).
    With nothing loosened the case is eligible by construction."""

    def either(name: str, good: st.SearchStrategy[T], anything: st.SearchStrategy[T]) -> T:
        return draw(st.one_of(good, anything) if name in loosen else good)

    history = draw(histories())
    context = draw(contexts_st)
    policy = draw(policies_st)
    last = max((s.stated_on for s in history), default=D0)
    stated_on = last + datetime.timedelta(days=draw(st.integers(0, 3)))
    max_age = policy.max_consent_age_days
    age = either("age", st.integers(0, max_age), st.integers(0, 2 * max_age + 2))
    final = StatementFacts(
        "good-consent",
        "consents",
        stated_on,
        either("scope", covering_scopes(context), near_miss_scopes(context) | scopes_st),
        either("duress", st.just(False), st.booleans()),
        None,
        either("signers", enough_signers(policy), signers_st),
    )
    if stated_on == last and not either("ties", st.just(False), st.booleans()):
        # a same-day refusal, withdrawal or failing consent would win the tie
        history = [s for s in history if s.stated_on != last]
    return Case(
        statements=(*history, final),
        status=either("status", st.just("imprisoned"), st.sampled_from(STATUSES)),
        context=context,
        policy=policy,
        as_of=stated_on + datetime.timedelta(days=age),
    )


@st.composite
def constructed_eligible_cases(draw: st.DrawFn) -> Case:
    """An arbitrary history followed by a good consent: eligible by construction."""
    return _final_consent_case(draw, frozenset())


@st.composite
def boundary_cases(draw: st.DrawFn, *names: str) -> Case:
    """An arbitrary history followed by a consent that is good except in ``names`` (by
    default: one condition, or all of them, chosen at random)."""
    if not names:
        chosen = draw(st.sampled_from([*LOOSENABLE, "all"]))
        names = LOOSENABLE if chosen == "all" else (chosen,)
    assert set(names) <= set(LOOSENABLE)
    return _final_consent_case(draw, frozenset(names))


# Cases that are often eligible, or nearly so.
mixed_cases = st.one_of(
    constructed_eligible_cases(),
    boundary_cases(),
    arbitrary_cases(status=st.just("imprisoned")),
)

# Everything: cases near the boundary, and arbitrary ones of any status.
any_cases = st.one_of(mixed_cases, arbitrary_cases())
