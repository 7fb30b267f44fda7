"""Hardening (issue 5, item 5): problem details, no echo, body limit, security headers,
trusted hosts, CORS, docs, and refusing to start unsafely in production."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api import PROBLEM_MEDIA_TYPE, SECURITY_HEADERS, Settings, create_app, load_secret
from consent import ConfigurationError, ConsentService
from tests.api.conftest import Api, make_settings

MARK = "ZQX-distinctive-7781"


def _client(service: ConsentService, **overrides: Any) -> TestClient:
    return TestClient(create_app(make_settings(**overrides), service),
                      base_url="http://testserver", raise_server_exceptions=False)


def _assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    assert body["type"].startswith("urn:exchange-consent:problem:")
    if code is not None:
        assert body["code"] == code
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body)


# -- problem details, never an echo --------------------------------------------------------

def test_unknown_route_and_method_are_problems(api: Api) -> None:
    _assert_problem(api.client.get("/v1/nothing-here"), 404, "not_found")
    wrong = api.client.get("/v1/auth/login")
    _assert_problem(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"


@pytest.mark.parametrize("body", [
    {"username": MARK, "password": 5},
    {"username": "alice", "password": "x", MARK: "value"},
    {"username": "alice", "password": "x", "extra": MARK},
    {"username": ["a", MARK], "password": "x"},
    {"username": "a" * 65 + MARK, "password": "x"},
])
def test_validation_errors_never_echo_what_was_sent(api: Api, body: dict[str, Any]) -> None:
    response = api.client.post("/v1/auth/login", json=body)
    problem = _assert_problem(response, 422, "invalid_request")
    assert MARK not in response.text
    assert problem["errors"]
    assert all(set(e) == {"location", "rule"} for e in problem["errors"])


def test_unknown_fields_are_refused(api: Api) -> None:
    response = api.client.post("/v1/auth/login",
                               json={"username": "a", "password": "b", "role": "admin"})
    problem = _assert_problem(response, 422, "invalid_request")
    assert {"location": ["body"], "rule": "extra_forbidden"} in problem["errors"]
    assert "role" not in response.text.replace('"rule"', "")


def test_malformed_json_is_a_problem_without_echo(api: Api) -> None:
    response = api.client.post("/v1/auth/login", content=b'{"username": "' + MARK.encode(),
                               headers={"Content-Type": "application/json"})
    _assert_problem(response, 400, "malformed_json")
    assert MARK not in response.text


def test_query_errors_never_echo(api: Api) -> None:
    response = api.client.get(f"/v1/audit/proof/consistency?first={MARK}&second=1")
    _assert_problem(response, 422, "invalid_request")
    assert MARK not in response.text
    extra = api.client.get(f"/v1/audit/proof/consistency?first=1&second=1&{MARK}=1")
    _assert_problem(extra, 422, "invalid_request")
    assert MARK not in extra.text


def test_domain_errors_never_echo(api: Api) -> None:
    headers = api.sign_in(api.enrol("alice", "advocate"))
    response = api.client.post("/v1/persons", headers=headers,
                               json={"full_name": MARK, "birth_date": "1800-01-01"})
    assert response.status_code == 422
    assert MARK not in response.text
    envelope = {"payloadType": MARK, "payload": "eyJ9",
                "signatures": [{"keyid": "ab" * 32, "sig": "AA=="}]}
    response = api.client.post("/v1/statements", headers=headers, json=envelope)
    _assert_problem(response, 422)
    assert MARK not in response.text


def test_an_unexpected_error_is_a_silent_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> str:
        raise RuntimeError(MARK)

    monkeypatch.setattr(api.service, "checkpoint", explode)
    response = api.client.get("/v1/audit/checkpoint")
    problem = _assert_problem(response, 500, "internal_error")
    assert MARK not in response.text and "RuntimeError" not in response.text
    assert problem["detail"] == "The request could not be completed."
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


# -- security headers ----------------------------------------------------------------------

def _responses(api: Api, service: ConsentService) -> Iterator[Any]:
    admin = api.sign_in(api.enrol("root", "admin"))
    yield api.client.get("/v1/healthz")                       # 200 JSON
    yield api.client.get("/v1/audit/key")                     # 200 text
    yield api.client.get("/v1/keys")                          # 401
    yield api.client.get("/v1/persons?name=x", headers=admin)  # 403
    yield api.client.get("/v1/nowhere")                       # 404
    yield api.client.put("/v1/healthz")                       # 405
    yield api.client.post("/v1/auth/login", json={})          # 422
    yield api.client.get("/v1/healthz", headers={"Host": "evil.example"})  # 400
    yield api.client.post("/v1/auth/login", content=b"x" * (2 * 1024 * 1024))  # 413
    yield api.client.post("/v1/auth/logout", headers=admin)   # 204


def test_security_headers_on_every_response(api: Api, service: ConsentService) -> None:
    statuses = set()
    for response in _responses(api, service):
        statuses.add(response.status_code)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.status_code, name)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert statuses == {200, 204, 400, 401, 403, 404, 405, 413, 422}


# -- body limit ---------------------------------------------------------------------------

def test_a_declared_oversized_body_is_refused(service: ConsentService) -> None:
    client = _client(service, max_body_bytes=1024)
    response = client.post("/v1/auth/login", content=b"{" + b" " * 2000 + b"}",
                           headers={"Content-Type": "application/json"})
    _assert_problem(response, 413, "body_too_large")


def test_a_streamed_oversized_body_is_refused(service: ConsentService) -> None:
    client = _client(service, max_body_bytes=1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 500

    response = client.post("/v1/auth/login", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    _assert_problem(response, 413, "body_too_large")


def test_imports_have_their_own_larger_limit(api: Api, service: ConsentService) -> None:
    headers = api.sign_in(api.enrol("alice", "advocate"))
    client = _client(service, max_body_bytes=1024, max_import_bytes=64 * 1024)
    csv = ("full_name,birth_date,aliases,location,status\n"
           + "".join(f"Person Number {n},1970-01-01,,,imprisoned\n" for n in range(60)))
    assert 1024 < len(csv) < 64 * 1024
    response = client.post("/v1/persons/import", headers={
        **headers, "Content-Type": "text/csv"}, content=csv.encode())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] + report["already_present"] == 60
    too_big = client.post("/v1/persons/import", headers={
        **headers, "Content-Type": "text/csv"}, content=csv.encode() * 40)
    _assert_problem(too_big, 413, "body_too_large")
    wrong_type = client.post("/v1/persons/import", headers=headers, json={})
    _assert_problem(wrong_type, 415, "unsupported_media_type")


# -- hosts, CORS, docs ---------------------------------------------------------------------

def test_untrusted_hosts_are_refused(service: ConsentService) -> None:
    client = _client(service, trusted_hosts=("consent.example.org", "*.internal.example"))
    assert client.get("/v1/healthz", headers={"Host": "consent.example.org"}).status_code == 200
    assert client.get("/v1/healthz", headers={"Host": "a.internal.example:8443"}
                      ).status_code == 200
    for host in ("testserver", "evil.example", "consent.example.org.evil.example", ""):
        _assert_problem(client.get("/v1/healthz", headers={"Host": host}), 400, "invalid_host")


def test_no_cors_unless_configured(api: Api, service: ConsentService) -> None:
    preflight = {"Origin": "https://web.example", "Access-Control-Request-Method": "POST"}
    response = api.client.options("/v1/auth/login", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    simple = api.client.get("/v1/healthz", headers={"Origin": "https://web.example"})
    assert "access-control-allow-origin" not in simple.headers
    configured = _client(service, cors_origins=("https://web.example",))
    allowed = configured.options("/v1/auth/login", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://web.example"
    assert "access-control-allow-credentials" not in allowed.headers
    other = configured.options("/v1/auth/login", headers={
        **preflight, "Origin": "https://other.example"})
    assert "access-control-allow-origin" not in other.headers


def test_docs_are_off_unless_turned_on(api: Api, service: ConsentService) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/v1/docs"):
        assert api.client.get(path).status_code == 404
    with_docs = _client(service, docs_enabled=True)
    assert with_docs.get("/openapi.json").status_code == 200
    page = with_docs.get("/docs")
    assert page.status_code == 200
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_query_strings_are_kept_out_of_access_logs(api: Api) -> None:
    """The scope's query string is blanked when the response starts, so a server's access
    log (which reads the scope then) never records ``?name=...``."""
    seen: dict[str, bytes] = {}
    app = api.client.app

    async def recorder(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                seen["query"] = scope["query_string"]
        await app(scope, receive, spy)  # type: ignore[operator]

    client = TestClient(recorder, base_url="http://testserver")
    headers = api.sign_in(api.enrol("alice", "advocate"))
    assert client.get(f"/v1/persons?name={MARK}", headers=headers).status_code == 200
    assert seen["query"] == b""


# -- refusing to start --------------------------------------------------------------------

GOOD_SECRET = SecretStr("Vt3q9ZkLw7XcR2mPb8NsYd4hGf6JaE1u")


@pytest.mark.parametrize("overrides", [
    {"secret_key": None},
    {"secret_key": SecretStr("changethis")},
    {"secret_key": SecretStr("secret")},
    {"secret_key": SecretStr("short-but-random-9x")},
    {"secret_key": SecretStr("a" * 40)},
    {"secret_key": GOOD_SECRET, "trusted_hosts": ("*",)},
    {"secret_key": GOOD_SECRET, "docs_enabled": True},
    {"secret_key": GOOD_SECRET, "cors_origins": ("*",)},
])
def test_production_refuses_unsafe_settings(service: ConsentService,
                                            overrides: dict[str, Any]) -> None:
    values: dict[str, Any] = {"production": True, "trusted_hosts": ("consent.example.org",)}
    settings = Settings(**{**values, **overrides})
    with pytest.raises(ConfigurationError):
        create_app(settings, service)


def test_production_starts_with_safe_settings(service: ConsentService) -> None:
    settings = Settings(production=True, secret_key=GOOD_SECRET,
                        trusted_hosts=("consent.example.org",))
    client = TestClient(create_app(settings, service), base_url="https://consent.example.org")
    assert client.get("/v1/healthz").status_code == 200


def test_settings_refuse_unknown_fields_and_weak_argon2() -> None:
    with pytest.raises(ValueError, match="extra"):
        Settings(debug=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="argon2_memory_kib"):
        Settings(argon2_memory_kib=1024)


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_TRUSTED_HOSTS": "a.example, b.example",
           "CONSENT_CORS_ORIGINS": "https://web.example", "CONSENT_MAX_BODY_BYTES": "4096"}
    settings = Settings.from_env(env)
    assert settings.trusted_hosts == ("a.example", "b.example")
    assert settings.cors_origins == ("https://web.example",)
    assert settings.max_body_bytes == 4096
    assert not settings.production and not settings.docs_enabled
    # Development: a private secret file is made once and then reused by every worker.
    secret = tmp_path / "api-secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert settings.secret_key is not None
    assert Settings.from_env(env).secret_key == settings.secret_key
    assert len(settings.secret_key.get_secret_value()) >= 32


def test_production_does_not_invent_a_secret(tmp_path: Path) -> None:
    env = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_PRODUCTION": "1",
           "CONSENT_TRUSTED_HOSTS": "consent.example.org"}
    settings = Settings.from_env(env)
    assert settings.secret_key is None
    assert not (tmp_path / "api-secret").exists()
    with pytest.raises(ConfigurationError):
        settings.check()
    assert load_secret(tmp_path, create=False) is None


def test_a_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "api-secret"
    path.write_text("x" * 40)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError):
        load_secret(tmp_path, create=False)


# -- JSON dates, the OpenAPI document, Allow -----------------------------------------------

def test_iso_dates_in_json_bodies_are_accepted_and_nothing_looser(api: Api) -> None:
    headers = api.sign_in(api.enrol("alice", "advocate"))
    person = api.client.post("/v1/persons", headers=headers,
                             json={"full_name": "Dated Person", "birth_date": "1980-01-02"})
    assert person.status_code == 201, person.text
    assert person.json()["birth_date"] == "1980-01-02"
    for looser in (315532800, "1980-1-2", "19800102", "1980-02-30", True):
        refused = api.client.post("/v1/persons", headers=headers,
                                  json={"full_name": "Dated Person", "birth_date": looser})
        _assert_problem(refused, 422, "invalid_request")
    compiler = api.sign_in(api.enrol("compiler", "compiler"))
    context = {"transfer": "exchange", "destination": "DE", "requires_pardon_petition": False,
               "documents_returned": True, "family_may_accompany": True, "as_of": "2026-01-01"}
    listed = api.client.post("/v1/lists/eligible", headers=compiler, json={"context": context})
    assert listed.status_code == 200, listed.text


def test_the_openapi_document_declares_problem_errors(service: ConsentService) -> None:
    schema = _client(service, docs_enabled=True).get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert list(responses["default"]["content"]) == [PROBLEM_MEDIA_TYPE], (method, path)
            assert "422" not in responses, (method, path)
    body = schema["paths"]["/v1/persons/import"]["post"]["requestBody"]
    assert list(body["content"]) == ["text/csv"]


def test_a_405_names_every_method_served_at_the_path(api: Api) -> None:
    for path in ("/v1/organisations", "/v1/users", "/v1/keys"):
        response = api.client.request("OPTIONS", path)
        _assert_problem(response, 405, "method_not_allowed")
        assert response.headers["allow"] == "GET, POST"
    assert api.client.delete(f"/v1/users/{'0' * 36}/disable").headers["allow"] == "POST"
