"""``consent init`` and ``consent serve``: an instance on disk, and the HTTP service over it."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from consent import ConsentError, init_instance, migrate, open_instance
from consent.cli._common import DataDirOption, JsonOption
from consent.cli._errors import CliError, UsageError
from consent.cli._ui import emit_json, out

__all__ = ["register"]

FACTORY = "api.app:factory"


def init(
    data_dir: DataDirOption,
    origin: Annotated[str | None, typer.Option(
        help="The log's origin line (and key name); default `consent.local/RANDOM`.")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="CONSENT_DATABASE_URL",
        help="PostgreSQL URL; default an SQLite file in the data directory.")] = None,
    admin_username: Annotated[str, typer.Option(
        "--admin-username", help="The first admin's username.")] = "admin",
    as_json: JsonOption = False,
) -> None:
    """Create a new instance: database, keys, the log, and a single-use admin invitation."""
    data_dir = data_dir.resolve()
    try:
        service, invitation = init_instance(data_dir, origin=origin, database_url=database_url,
                                            admin_username=admin_username)
        vkey = service.vkey()
        service.db.dispose()
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    if as_json:
        emit_json({"data_dir": str(data_dir), "vkey": vkey, "admin_username": admin_username,
                   "admin_invitation": invitation})
        return
    out(f"Created a new instance in {data_dir}.")
    out("")
    out("The log's public verifier key (publish it: auditors need nothing else):")
    out(f"  {vkey}")
    out("")
    out(f"Single-use invitation for the admin account '{admin_username}' "
        "(valid for 7 days, shown only now):")
    out(f"  {invitation}")
    out("")
    out("Next:")
    out(f"  consent serve --data-dir {data_dir}")
    out("  consent enroll --server http://127.0.0.1:8000      (paste the invitation)")


def serve(
    data_dir: DataDirOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL recommended "
                                         "for more than one).", min=1, max=64)] = 1,
    trusted_host: Annotated[list[str] | None, typer.Option(
        "--trusted-host", help="A Host header to accept (repeatable); default localhost "
        "names. Set it to the public name behind a reverse proxy.")] = None,
    production: Annotated[bool, typer.Option(
        "--production", envvar="CONSENT_PRODUCTION",
        help="Refuse unsafe settings: a missing API secret, wildcard hosts, interactive docs.")
    ] = False,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", help="Proxies whose X-Forwarded-* headers are trusted "
        "(comma-separated); default 127.0.0.1.")] = None,
) -> None:
    """Serve an instance over HTTP (put TLS in front of it: see README, Deployment)."""
    import uvicorn

    data_dir = data_dir.resolve()
    try:
        service = open_instance(data_dir)
        migrate(service.db)
        service.db.dispose()
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    # The factory reads its settings from the environment in every worker process.
    os.environ["CONSENT_DATA_DIR"] = str(data_dir)
    if trusted_host:
        os.environ["CONSENT_TRUSTED_HOSTS"] = ",".join(trusted_host)
    if production:
        os.environ["CONSENT_PRODUCTION"] = "1"
    try:
        from api._settings import Settings

        Settings.from_env().check()
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    except ValueError as exc:
        raise UsageError("The service settings in the environment are not valid.") from exc
    typer.echo(f"Serving {data_dir} on http://{host}:{port} with {workers} worker(s); "
               "press Ctrl+C to stop.", err=True)
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                server_header=False, log_level="info")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Operator")(init)
    app.command(rich_help_panel="Operator")(serve)

