"""A small HTTP client over the standard library, speaking the service's JSON and problems.

Errors come back as :class:`ApiError`: the server's one-sentence ``detail`` (RFC 9457), its
stable ``code``, and the whole problem body for callers that want more (an import report).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consent.cli._errors import CliError

__all__ = ["ApiError", "Client", "Response"]

USER_AGENT = "exchange-consent-cli/0.1"
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class ApiError(CliError):
    def __init__(self, status: int, code: str, detail: str,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.body: dict[str, Any] = dict(body or {})


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise CliError("The server sent a response that is not JSON.") from exc

    def text(self) -> str:
        return self.body.decode("utf-8")


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass
class Client:
    base_url: str
    token: str | None = None
    timeout: float = 60.0
    _opener: urllib.request.OpenerDirector = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CliError("The server address must be an http:// or https:// URL.")
        self.base_url = self.base_url.rstrip("/")
        # No redirects: a bearer token must never follow a redirect to another host.
        self._opener = urllib.request.build_opener(_NoRedirect)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = f"{self.base_url}/v1{path}"
        if params:
            clean = {k: _param(v) for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        return url

    def request(self, method: str, path: str, *, json_body: Any = None,
                data: bytes | None = None, content_type: str | None = None,
                params: Mapping[str, Any] | None = None, auth: bool = True) -> Response:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/plain, */*"}
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url(path, params), data=body, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                payload = answer.read(MAX_RESPONSE_BYTES)
                return Response(answer.status, dict(answer.headers.items()), payload)
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except urllib.error.URLError as exc:
            raise CliError(f"Cannot reach the server at {self.base_url}: is it running?"
                           ) from exc
        except TimeoutError as exc:
            raise CliError(f"The server at {self.base_url} did not answer in time.") from exc
        except (ConnectionError, OSError) as exc:
            raise CliError(f"The connection to {self.base_url} failed.") from exc

    # -- conveniences --------------------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None,
            auth: bool = True) -> Any:
        return self.request("GET", path, params=params, auth=auth).json()

    def get_text(self, path: str, *, params: Mapping[str, Any] | None = None,
                 auth: bool = True) -> str:
        return self.request("GET", path, params=params, auth=auth).text()

    def post(self, path: str, body: Any = None, *, auth: bool = True,
             params: Mapping[str, Any] | None = None) -> Any:
        answer = self.request("POST", path, json_body={} if body is None else body,
                              auth=auth, params=params)
        return answer.json() if answer.body.strip() else None


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


def _problem(exc: urllib.error.HTTPError) -> ApiError:
    status = exc.code
    try:
        raw = exc.read(1024 * 1024)
    except OSError:
        raw = b""
    body: dict[str, Any] = {}
    try:
        parsed = json.loads(raw) if raw else {}
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    code = str(body.get("code") or f"http_{status}")
    detail = body.get("detail")
    if status == 401 and code == "not_authenticated":
        message = ("You are not signed in, or your session has ended: run 'consent login' "
                   "again.")
    elif isinstance(detail, str) and detail.strip():
        message = _sentence(detail)
    else:
        message = f"The server refused the request (HTTP {status})."
    return ApiError(status, code, message, body)
