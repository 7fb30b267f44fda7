"""What the command modules share: the resolved state, an authenticated client, options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from consent.cli._config import State
from consent.cli._errors import CliError, UsageError
from consent.cli._http import Client

__all__ = [
    "JsonOption",
    "YesOption",
    "anonymous_client",
    "client",
    "context_body",
    "parse_date",
    "state",
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y",
                                         help="Do not ask for confirmation (for scripts).")]
DataDirOption = Annotated[Path, typer.Option("--data-dir", help="The instance's data directory.",
                                             file_okay=False)]


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State.create(config_dir=None, profile=None, server=None)
    return root.obj


def client(ctx: typer.Context) -> Client:
    """A client signed in with the profile's session (or a clear error)."""
    current = state(ctx)
    session = current.require_session()
    return Client(session.server, session.access_token)


def anonymous_client(ctx: typer.Context, server: str | None = None) -> Client:
    current = state(ctx)
    return Client((server or current.server()).rstrip("/"))


def parse_date(value: str | None, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"The {what} must be a date written YYYY-MM-DD.") from None


def context_body(transfer: str, destination: str, requires_pardon_petition: bool,
                 documents_returned: bool, family_may_accompany: bool,
                 as_of: str | None) -> dict[str, Any]:
    """A list context (DESIGN section 6) as the API takes it, every member explicit."""
    if transfer not in ("exchange", "expulsion"):
        raise UsageError("The transfer must be 'exchange' or 'expulsion'.")
    country = destination.strip().upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise UsageError("The destination must be an ISO 3166-1 alpha-2 country code, "
                         "such as DE.")
    body: dict[str, Any] = {
        "transfer": transfer,
        "destination": country,
        "requires_pardon_petition": requires_pardon_petition,
        "documents_returned": documents_returned,
        "family_may_accompany": family_may_accompany,
    }
    day = parse_date(as_of, "--as-of date")
    if day is not None:
        body["as_of"] = day.isoformat()
    return body


def need(condition: bool, message: str) -> None:
    if not condition:
        raise CliError(message)


TransferOption = Annotated[str, typer.Option(
    "--transfer", help="The kind of transfer the list is for: exchange or expulsion.")]
DestinationOption = Annotated[str, typer.Option(
    "--destination", "--to", help="Destination country, ISO 3166-1 alpha-2 (e.g. DE).")]
PardonOption = Annotated[bool, typer.Option(
    "--requires-pardon-petition", help="The deal requires the person to petition for pardon.")]
DocumentsOption = Annotated[bool, typer.Option(
    "--documents-returned", help="The deal returns the person's identity documents.")]
FamilyOption = Annotated[bool, typer.Option(
    "--family-may-accompany", help="The deal lets the person's family go with them.")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="Decide as of this date (YYYY-MM-DD); default today.")]
