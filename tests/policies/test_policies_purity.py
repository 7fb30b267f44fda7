"""policies is pure: no clock, no randomness, no I/O but its own documents, no project imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import policies

PACKAGE = Path(policies.__file__).resolve().parent
SOURCES = sorted(PACKAGE.glob("*.py"))
ALLOWED = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "hashlib",
    "importlib.resources",
    "re",
    "tomllib",
    "typing",
}
FORBIDDEN_NAMES = {"today", "now", "utcnow", "time", "open", "random", "urandom", "environ"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_imports_only_stdlib_without_clock_or_randomness(source):
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for module in _imports(tree):
        assert module in ALLOWED or module == "policies" or module.startswith("policies."), module


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_clock_or_environment_access(source):
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_NAMES, (source.name, node.attr)
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, (source.name, node.id)


def test_public_api():
    assert sorted(policies.__all__) == sorted(set(policies.__all__))
    for name in policies.__all__:
        assert hasattr(policies, name), name


def test_error_tree_is_documented():
    from policies import _errors

    doc = _errors.__doc__ or ""
    for name in ("PolicyError", "PolicyDocumentError", "PolicyNotFound", "PolicyInputError"):
        assert name in doc
        assert issubclass(getattr(policies, name), policies.PolicyError)
