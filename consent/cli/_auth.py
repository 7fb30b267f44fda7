"""``consent enroll``, ``consent login``, ``consent logout``: accounts and sessions.

Secrets never go on the command line (where ``ps`` and shell history would keep them): they
are prompted for without echo, or read from environment variables for scripts:
``CONSENT_INVITATION``, ``CONSENT_PASSWORD``, ``CONSENT_TOTP_CODE``, ``CONSENT_RECOVERY_CODE``.
"""

from __future__ import annotations

import io
import os
from typing import Annotated

import segno
import typer

from consent.cli._common import anonymous_client, state
from consent.cli._config import Session, State
from consent.cli._errors import CliError
from consent.cli._http import ApiError, Client
from consent.cli._ui import err, out, prompt_secret

__all__ = ["register", "sign_in"]

ServerOption = Annotated[str | None, typer.Option(
    "--server", help="The service's address, e.g. https://consent.example.org "
    "(default: the profile's, or http://127.0.0.1:8000).")]


def qr_text(data: str) -> str:
    """A QR code drawn with block characters, for scanning straight off a terminal."""
    buffer = io.StringIO()
    segno.make(data, error="m").terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue()


def _prompt_code(label: str, env_var: str) -> str:
    if os.environ.get(env_var):
        return os.environ[env_var].strip()
    value: str = typer.prompt(label)
    return value.strip().replace(" ", "")


def enroll(
    ctx: typer.Context,
    server: ServerOption = None,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Draw the QR code.")] = True,
) -> None:
    """Accept an invitation: password, authenticator app, recovery codes.

    Shows the TOTP secret and a QR code, asks for the app's first code, and prints the
    recovery codes once."""
    current = state(ctx)
    api = anonymous_client(ctx, server)
    invitation = prompt_secret("Invitation", "CONSENT_INVITATION").strip()
    password = prompt_secret("Choose a password (12 characters or more)", "CONSENT_PASSWORD",
                             confirm_it=True)
    started = api.post("/auth/enroll", {"invitation": invitation, "password": password},
                       auth=False)
    username = str(started["username"])
    secret = str(started["secret"])
    uri = str(started["otpauth_uri"])
    out(f"Account: {username}")
    out("")
    out("Add this account to an authenticator app (RFC 6238 TOTP): scan the code, or type "
        "the secret.")
    if qr:
        out(qr_text(uri))
    out(f"Secret: {secret}")
    out("")
    code = _prompt_code("First code from the app", "CONSENT_TOTP_CODE")
    confirmed = api.post("/auth/enroll/confirm", {"invitation": invitation, "code": code},
                         auth=False)
    codes = [str(c) for c in confirmed["recovery_codes"]]
    out("")
    out("Recovery codes: each signs you in once if you lose the app. They are shown only "
        "now: write them down and keep them somewhere safe.")
    for number, recovery in enumerate(codes, start=1):
        out(f"  {number}. {recovery}")
    out("")
    current.save_session(Session(api.base_url, username, "", None))
    out(f"Enrolled as {username}. Sign in with: consent login")


def sign_in(api: Client, username: str, password: str, *, code: str | None = None,
            recovery_code: str | None = None) -> str:
    """Password, then the second factor; returns the bearer token."""
    challenge = api.post("/auth/login", {"username": username, "password": password},
                         auth=False)
    body: dict[str, str] = {"mfa_token": str(challenge["mfa_token"])}
    if recovery_code is not None:
        body["recovery_code"] = recovery_code
    else:
        body["code"] = code if code is not None else _prompt_code(
            "Code from the authenticator app", "CONSENT_TOTP_CODE")
    issued = api.post("/auth/totp", body, auth=False)
    return str(issued["access_token"])


def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option(
        "--username", "-u", help="Default: the profile's account.")] = None,
    server: ServerOption = None,
    recovery: Annotated[bool, typer.Option(
        "--recovery-code", help="Use a recovery code instead of the authenticator app.")
    ] = False,
) -> None:
    """Sign in with password and authenticator code; the session is kept for this profile."""
    current = state(ctx)
    saved = current.load_session()
    api = anonymous_client(ctx, server)
    name = username or (saved.username if saved and saved.server.rstrip("/") == api.base_url
                        else None)
    if not name:
        name = str(typer.prompt("Username")).strip()
    password = prompt_secret("Password", "CONSENT_PASSWORD")
    recovery_code = (prompt_secret("Recovery code", "CONSENT_RECOVERY_CODE").strip()
                     if recovery else None)
    try:
        token = sign_in(api, name, password, recovery_code=recovery_code)
    except ApiError as exc:
        raise CliError(exc.message) from exc
    current.save_session(Session(api.base_url, name, token, None))
    out(f"Signed in to {api.base_url} as {name}.")


def logout(ctx: typer.Context) -> None:
    """End the session on the server and forget it here."""
    current: State = state(ctx)
    saved = current.load_session()
    if saved is None or not saved.access_token:
        err("You were not signed in.")
        return
    try:
        Client(saved.server, saved.access_token).request("POST", "/auth/logout")
    except ApiError as exc:
        if exc.status != 401:
            raise
    except CliError:
        err("The server could not be reached; the session is forgotten here anyway.")
    current.save_session(Session(saved.server, saved.username, "", None))
    out("Signed out.")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Everyone")(enroll)
    app.command(rich_help_panel="Everyone")(login)
    app.command(rich_help_panel="Everyone")(logout)
