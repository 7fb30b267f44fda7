"""RFC 9457 problem details for every error the service returns.

A problem body has ``type``, ``title``, ``status``, ``detail`` and a stable ``code``. Bodies
are built only from fixed sentences and schema locations: never a stack trace, never a
submitted value (validation errors name where and which rule, not what was sent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consent import _errors as ce
from policies import PolicyError
from policies._errors import PolicyDocumentError, PolicyInputError, PolicyNotFound

__all__ = ["PROBLEM_MEDIA_TYPE", "ProblemError", "install_problem_handlers", "problem_response"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("consent.api")

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Internal error",
}


class ProblemError(Exception):
    """Raise anywhere under a route to answer with a problem document."""

    def __init__(self, status: int, code: str, detail: str, *,
                 headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(status: int, code: str, detail: str,
                 extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:exchange-consent:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra or {})
    return body


def problem_response(status: int, code: str, detail: str, *,
                     headers: Mapping[str, str] | None = None,
                     extra: Mapping[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(problem_body(status, code, detail, extra), status_code=status,
                        headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE)


# The most specific class wins: the table is searched along the exception's MRO.
_CONSENT: dict[type[ce.ConsentError], tuple[int, str]] = {
    ce.ImportRejected: (422, "import_rejected"),
    ce.InvalidEnvelope: (422, "invalid_envelope"),
    ce.InvalidStatement: (422, "invalid_statement"),
    ce.InvalidIdentity: (422, "invalid_identity"),
    ce.InvalidPublicKey: (422, "invalid_public_key"),
    ce.InvalidInput: (422, "invalid_input"),
    ce.InvalidSignature: (422, "invalid_signature"),
    ce.KeyNotUsable: (422, "key_not_usable"),
    ce.NotFound: (404, "not_found"),
    ce.Forbidden: (403, "forbidden"),
    ce.StaleChain: (409, "stale_chain"),
    ce.DuplicateStatement: (409, "duplicate_statement"),
    ce.DuplicateSignature: (409, "duplicate_signature"),
    ce.Conflict: (409, "conflict"),
}


def consent_problem(exc: ce.ConsentError) -> JSONResponse:
    for cls in type(exc).__mro__:
        if cls in _CONSENT:
            status, code = _CONSENT[cls]
            break
    else:
        # Decryption, keystore, key files, configuration: an operator's problem. Say nothing.
        _log.error("internal error: %s", type(exc).__name__)
        return problem_response(500, "internal_error", "The request could not be completed.")
    extra: dict[str, Any] = {}
    rule = getattr(exc, "code", None)
    if isinstance(rule, str):
        extra["rule"] = rule
    if isinstance(exc, ce.ImportRejected):
        extra["errors"] = [{"line": line, "rule": rule_code, "detail": message}
                           for line, rule_code, message in exc.rows]
    return problem_response(status, code, exc.message, extra=extra)


def policy_problem(exc: PolicyError) -> JSONResponse:
    if isinstance(exc, PolicyNotFound):
        return problem_response(404, "policy_not_found", "No such policy.")
    if isinstance(exc, PolicyDocumentError):
        return problem_response(422, "invalid_policy", "The policy document is not valid.")
    if isinstance(exc, PolicyInputError):
        return problem_response(422, "invalid_input", "The input is not valid.")
    _log.error("internal error: %s", type(exc).__name__)
    return problem_response(500, "internal_error", "The request could not be completed.")


def _safe_location(error: Mapping[str, Any]) -> list[str | int]:
    """Where the error is, in schema terms. For an unknown member the location stops at the
    object holding it: the member's name was chosen by the caller and is not echoed."""
    loc: Sequence[Any] = error.get("loc", ())
    if error.get("type") in ("extra_forbidden", "json_invalid"):
        loc = loc[:-1] if error.get("type") == "extra_forbidden" else loc[:1]
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = [{"location": _safe_location(e), "rule": str(e.get("type", "invalid"))}
              for e in exc.errors()[:50]]
    malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
    if malformed:
        return problem_response(400, "malformed_json", "The request body is not valid JSON.")
    return problem_response(422, "invalid_request",
                            "The request does not match the expected schema.",
                            extra={"errors": errors})


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.code, exc.detail, headers=exc.headers,
                                extra=exc.extra)

    async def on_consent(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ce.ConsentError)
        return consent_problem(exc)

    async def on_policy(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PolicyError)
        return policy_problem(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        codes = {404: ("not_found", "No such resource."),
                 405: ("method_not_allowed", "This method is not allowed here.")}
        code, detail = codes.get(status, ("http_error", _TITLES.get(status, "Error") + "."))
        headers: dict[str, str] = {}
        if status == 405:
            path = request.url.path
            methods = {m for pattern, served in getattr(request.app.state, "allow", ())
                       if pattern.match(path) for m in served}
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return problem_response(status, code, detail, headers=headers)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(ce.ConsentError, on_consent)
    app.add_exception_handler(PolicyError, on_policy)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
