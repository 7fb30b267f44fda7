"""Benchmark: evaluate() over 20,000 persons with 100,000 statements, one list context.

Histories are random but seeded (so every run judges the same data) and signers count as
already verified, as the engine expects. The same data is also merely iterated, touching
every statement once, in the same run: the ratio of the two timings is the engine's cost
relative to the cheapest possible pass over the data.

    python bench/bench_eligibility.py [--persons N] [--statements M] [--seed S] [--repeat R]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import importlib.util
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

if importlib.util.find_spec("policies") is None:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import (
    ListContext,
    Position,
    Scope,
    Signer,
    StatementFacts,
    Status,
    default_policy,
    evaluate,
)

AS_OF = datetime.date(2025, 6, 1)
CONTEXT = ListContext("exchange", "DE", False, True, False)
COUNTRIES = ("DE", "LT", "PL", "FR", "US", "CZ", "GE", "AM")
T = TypeVar("T")
POSITIONS: tuple[Position, ...] = ("consents", "refuses", "withdraws", "retracts")
STATUSES: tuple[Status, ...] = ("imprisoned", "released", "deceased", "unknown")


def build(persons: int, statements: int, seed: int) -> list[tuple[Status, list[StatementFacts]]]:
    """One (status, history) per person; every person has at least one statement."""
    rng = random.Random(seed)
    advocates = [Signer(f"adv-{i:03d}", f"org-{i % 30:02d}") for i in range(300)]
    counts = [1] * persons
    for _ in range(statements - persons):
        counts[rng.randrange(persons)] += 1
    people: list[tuple[Status, list[StatementFacts]]] = []
    serial = 0
    for count in counts:
        status = rng.choices(STATUSES, weights=(85, 10, 2, 3))[0]
        history: list[StatementFacts] = []
        for _ in range(count):
            serial += 1
            sid = f"{serial:064x}"
            on = AS_OF - datetime.timedelta(days=rng.randrange(0, 400))
            signers = frozenset(rng.sample(advocates, rng.choice((1, 2, 2, 3))))
            duress = rng.random() < 0.05
            position = rng.choices(POSITIONS, weights=(50, 20, 10, 20))[0]
            if position == "retracts" and not history:
                position = "refuses"
            if position == "consents":
                scope = Scope(
                    frozenset(rng.choice((["exchange"], ["expulsion"], ["exchange", "expulsion"]))),
                    frozenset({"*"})
                    if rng.random() < 0.5
                    else frozenset(rng.sample(COUNTRIES, rng.randint(1, 3))),
                    rng.random() < 0.5,
                    rng.random() < 0.3,
                    rng.random() < 0.3,
                )
                history.append(StatementFacts(sid, "consents", on, scope, duress, None, signers))
            elif position == "retracts":
                target = rng.choice(history).statement_id
                history.append(StatementFacts(sid, "retracts", on, None, duress, target, signers))
            else:
                history.append(StatementFacts(sid, position, on, None, duress, None, signers))
        people.append((status, history))
    return people


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    best, result = float("inf"), run()  # one warm-up run, not timed
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    people = build(args.persons, args.statements, args.seed)
    policy = default_policy()

    def iterate_only() -> int:
        touched = 0
        for _status, history in people:
            for statement in history:
                touched += statement.stated_on.day
        return touched

    def evaluate_all() -> collections.Counter[str]:
        outcomes: collections.Counter[str] = collections.Counter()
        for status, history in people:
            decision = evaluate(history, status, CONTEXT, policy, AS_OF)
            outcomes["eligible" if decision.eligible else "ineligible"] += 1
            outcomes.update(reason.value for reason in decision.reasons)
        return outcomes

    base_seconds, _ = best_of(args.repeat, iterate_only)
    eval_seconds, outcomes = best_of(args.repeat, evaluate_all)
    total = sum(len(history) for _status, history in people)
    print(f"python {sys.version.split()[0]}; policy {policy.id} {policy.sha256[:12]}")
    print(f"persons {len(people)}, statements {total}, best of {args.repeat} runs")
    for label, seconds in (("iterate only", base_seconds), ("evaluate", eval_seconds)):
        rate = len(people) / seconds
        print(f"{label:<13}: {seconds * 1e3:9.1f} ms  {rate:12,.0f} persons/s")
    print(f"ratio evaluate / iterate: {eval_seconds / base_seconds:.1f}x")
    print("outcomes:", dict(sorted(outcomes.items())))


if __name__ == "__main__":
    main()
