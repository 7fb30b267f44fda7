"""RFC 8785 canonical bytes and the DSSE PAE."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import InvalidInput, canonical_bytes, pae, parse_json_strict
from tests.conftest import vectors_dir

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(json_values, st.integers())
def test_key_order_does_not_matter(value: Any, seed: int) -> None:
    assert canonical_bytes(_shuffled(value, random.Random(seed))) == canonical_bytes(value)


@given(json_values)
def test_round_trip(value: Any) -> None:
    encoded = canonical_bytes(value)
    assert parse_json_strict(encoded) == value
    assert canonical_bytes(parse_json_strict(encoded)) == encoded


def test_known_form() -> None:
    expected = '{"a":[true,null,"é"],"b":1}'.encode()
    assert canonical_bytes({"b": 1, "a": [True, None, "é"]}) == expected


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', '{"a":NaN}', "[1,", '"\\ud800"x'])
def test_strict_parser_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_json_strict(text.encode())


def test_pae_vector() -> None:
    case = json.loads((vectors_dir("signed-note.json")).read_text())["dsse_pae"]
    assert pae(case["payloadType"], case["payload"].encode()) == case["pae"].encode()


def test_pae_uses_byte_lengths() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 " + "é".encode()
