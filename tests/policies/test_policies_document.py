"""Policy documents: the bundled default, strict parsing, and errors that name keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from policies_strategies import policy_text

import policies
from policies import (
    DEFAULT_POLICY_ID,
    Policy,
    PolicyDocumentError,
    PolicyError,
    PolicyNotFound,
    bundled_policy,
    default_policy,
    parse_policy,
)

BUNDLED = Path(policies.__file__).resolve().parent / "explicit-consent.toml"
GOOD = policy_text()


def test_default_policy_is_the_bundled_explicit_consent_document():
    policy = default_policy()
    document = BUNDLED.read_bytes()
    assert policy.id == DEFAULT_POLICY_ID == "explicit-consent"
    assert policy.version == 1
    assert policy.document == document
    assert policy.sha256 == hashlib.sha256(document).hexdigest()
    assert (
        policy.min_consent_signers,
        policy.require_distinct_organisations,
        policy.max_consent_age_days,
        policy.exclude_duress_concern,
    ) == (2, False, 180, True)
    assert bundled_policy("explicit-consent") == policy


def test_parse_round_trip():
    policy = parse_policy(GOOD.encode())
    assert policy.id == "test-policy"
    assert policy.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()
    assert parse_policy(policy.document) == policy
    assert "document" not in repr(policy)  # the bytes stay out of reprs and logs


def test_any_byte_change_is_a_new_hash():
    a = parse_policy(GOOD.encode())
    b = parse_policy((GOOD + "# comment\n").encode())
    assert (a.min_consent_signers, a.max_consent_age_days) == (
        b.min_consent_signers,
        b.max_consent_age_days,
    )
    assert a.sha256 != b.sha256


def test_bundled_policy_unknown_or_ill_formed_ids():
    for policy_id in ("no-such-policy", "../explicit-consent", "Explicit-Consent", "", "-x"):
        with pytest.raises(PolicyNotFound):
            bundled_policy(policy_id)
    assert issubclass(PolicyNotFound, PolicyError)
    assert issubclass(PolicyNotFound, LookupError)


def _replace_line(start: str, line: str | None) -> str:
    out = []
    for existing in GOOD.splitlines(keepends=True):
        if existing.startswith(start):
            if line is not None:
                out.append(line + "\n")
        else:
            out.append(existing)
    return "".join(out)


BAD = {
    # (document, key, problem)
    "too-large": (GOOD + "#" * 70_000 + "\n", None, "too_large"),
    "not-utf8": (GOOD.encode() + b"# \xff\n", None, "encoding"),
    "surrogate": (GOOD.encode() + b"# \xed\xa0\x80\n", None, "encoding"),
    "syntax": ("id = \n", None, "syntax"),
    "duplicate-key": ('id = "again"\n' + GOOD, None, "syntax"),
    "unknown-top-key": ("extra = 1\n" + GOOD, "extra", "unknown_key"),
    "unknown-parameter": (GOOD + "min_signers = 2\n", "parameters.min_signers", "unknown_key"),
    "missing-id": (_replace_line("id", None), "id", "missing_key"),
    "missing-version": (_replace_line("version", None), "version", "missing_key"),
    "missing-parameters": ('id = "x"\nversion = 1\n', "parameters", "missing_key"),
    "missing-min": (
        _replace_line("min_consent", None),
        "parameters.min_consent_signers",
        "missing_key",
    ),
    "missing-distinct": (
        _replace_line("require_distinct", None),
        "parameters.require_distinct_organisations",
        "missing_key",
    ),
    "missing-age": (
        _replace_line("max_consent", None),
        "parameters.max_consent_age_days",
        "missing_key",
    ),
    "missing-duress": (
        _replace_line("exclude_duress", None),
        "parameters.exclude_duress_concern",
        "missing_key",
    ),
    "id-type": (_replace_line("id", "id = 7"), "id", "wrong_type"),
    "id-empty": (_replace_line("id", 'id = ""'), "id", "out_of_range"),
    "id-upper": (_replace_line("id", 'id = "Explicit"'), "id", "out_of_range"),
    "id-leading-dash": (_replace_line("id", 'id = "-x"'), "id", "out_of_range"),
    "id-path": (_replace_line("id", 'id = "../x"'), "id", "out_of_range"),
    "id-too-long": (_replace_line("id", f'id = "{"a" * 65}"'), "id", "out_of_range"),
    "id-newline": (_replace_line("id", 'id = "x\\n"'), "id", "out_of_range"),
    "version-bool": (_replace_line("version", "version = true"), "version", "wrong_type"),
    "version-float": (_replace_line("version", "version = 1.0"), "version", "wrong_type"),
    "version-string": (_replace_line("version", 'version = "1"'), "version", "wrong_type"),
    "version-zero": (_replace_line("version", "version = 0"), "version", "out_of_range"),
    "parameters-not-table": ('id = "x"\nversion = 1\nparameters = 2\n', "parameters", "wrong_type"),
    "min-bool": (
        _replace_line("min_consent", "min_consent_signers = true"),
        "parameters.min_consent_signers",
        "wrong_type",
    ),
    "min-float": (
        _replace_line("min_consent", "min_consent_signers = 2.0"),
        "parameters.min_consent_signers",
        "wrong_type",
    ),
    "min-one": (
        _replace_line("min_consent", "min_consent_signers = 1"),
        "parameters.min_consent_signers",
        "out_of_range",
    ),
    "min-zero": (
        _replace_line("min_consent", "min_consent_signers = 0"),
        "parameters.min_consent_signers",
        "out_of_range",
    ),
    "min-21": (
        _replace_line("min_consent", "min_consent_signers = 21"),
        "parameters.min_consent_signers",
        "out_of_range",
    ),
    "distinct-int": (
        _replace_line("require_distinct", "require_distinct_organisations = 1"),
        "parameters.require_distinct_organisations",
        "wrong_type",
    ),
    "distinct-string": (
        _replace_line("require_distinct", 'require_distinct_organisations = "false"'),
        "parameters.require_distinct_organisations",
        "wrong_type",
    ),
    "age-bool": (
        _replace_line("max_consent", "max_consent_age_days = false"),
        "parameters.max_consent_age_days",
        "wrong_type",
    ),
    "age-zero": (
        _replace_line("max_consent", "max_consent_age_days = 0"),
        "parameters.max_consent_age_days",
        "out_of_range",
    ),
    "age-3651": (
        _replace_line("max_consent", "max_consent_age_days = 3651"),
        "parameters.max_consent_age_days",
        "out_of_range",
    ),
    "age-negative": (
        _replace_line("max_consent", "max_consent_age_days = -1"),
        "parameters.max_consent_age_days",
        "out_of_range",
    ),
    "duress-int": (
        _replace_line("exclude_duress", "exclude_duress_concern = 0"),
        "parameters.exclude_duress_concern",
        "wrong_type",
    ),
    "nested-table": (GOOD + "[parameters.extra]\n", "parameters.extra", "unknown_key"),
}


@pytest.mark.parametrize(("document", "key", "problem"), BAD.values(), ids=BAD.keys())
def test_bad_documents_raise_a_specific_error(document, key, problem):
    data = document.encode() if isinstance(document, str) else document
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(data)
    assert (info.value.key, info.value.problem) == (key, problem)
    if key is not None:
        assert key.rsplit(".", 1)[-1] in str(info.value)


@pytest.mark.parametrize("document", [GOOD, bytearray(GOOD.encode()), memoryview(GOOD.encode())])
def test_documents_must_be_bytes(document):
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(document)
    assert (info.value.key, info.value.problem) == (None, "wrong_type")


def test_bounds_are_accepted():
    for line in ("min_consent_signers = 2", "min_consent_signers = 20"):
        assert parse_policy(_replace_line("min_consent", line).encode())
    for line in ("max_consent_age_days = 1", "max_consent_age_days = 3650"):
        assert parse_policy(_replace_line("max_consent", line).encode())
    assert parse_policy(_replace_line("id", f'id = "{"a" * 64}"').encode()).id == "a" * 64


SECRET = "Kagarlitsky"


@pytest.mark.parametrize(
    "document",
    [
        _replace_line("id", f'id = "{SECRET}"'),
        _replace_line("version", f'version = "{SECRET}"'),
        _replace_line("min_consent", f'min_consent_signers = "{SECRET}"'),
        _replace_line("min_consent", "min_consent_signers = 987654"),
        f'id = "x"\nversion = 1\nparameters = "{SECRET}"\n',
        f'id = "x" {SECRET}\n',
        f"{SECRET} = = 1\n",
        f'id = "{SECRET}\n',
    ],
)
def test_errors_never_echo_values(document):
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(document.encode())
    assert SECRET not in str(info.value)
    assert "987654" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_syntax_errors_give_a_position():
    with pytest.raises(PolicyDocumentError, match=r"line 2, column \d+"):
        parse_policy(b'id = "x"\nversion = = 1\n')


def test_policy_must_agree_with_its_document():
    policy = parse_policy(GOOD.encode())
    fields = {
        "id": policy.id,
        "version": policy.version,
        "min_consent_signers": policy.min_consent_signers,
        "require_distinct_organisations": policy.require_distinct_organisations,
        "max_consent_age_days": policy.max_consent_age_days,
        "exclude_duress_concern": policy.exclude_duress_concern,
        "document": policy.document,
        "sha256": policy.sha256,
    }
    assert Policy(**fields) == policy
    for key, value in [
        ("id", "other"),
        ("version", 2),
        ("min_consent_signers", 3),
        ("min_consent_signers", 2.0),
        ("require_distinct_organisations", True),
        ("max_consent_age_days", 181),
        ("exclude_duress_concern", False),
        ("exclude_duress_concern", 1),
        ("sha256", "0" * 64),
    ]:
        with pytest.raises(PolicyDocumentError) as info:
            Policy(**{**fields, key: value})
        assert (info.value.key, info.value.problem) == (key, "mismatch")
    with pytest.raises(PolicyDocumentError):
        Policy(**{**fields, "document": b"garbage = ["})
