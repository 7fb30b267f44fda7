"""The ``consent`` command: its root, shared options and error handling."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from consent import ConsentError
from consent.cli import (
    _admin,
    _advocate,
    _audit,
    _auth,
    _compiler,
    _demo,
    _manifest,
    _server,
)
from consent.cli._config import State
from consent.cli._errors import CliError

__all__ = ["app", "main"]


def _quiet_broken_pipe() -> int:
    """The reader went away (``consent … | head``): stop quietly, as other tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


class ConsentGroup(TyperGroup):
    """Turns every expected failure into one sentence on stderr and a non-zero status."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            raise _fail(exc.message, exc.exit_code) from None
        except ConsentError as exc:
            raise _fail(exc.message, 1) from None
        except KeyboardInterrupt:
            raise _fail("Interrupted.", 130) from None
        except BrokenPipeError:
            raise typer.Exit(_quiet_broken_pipe()) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if os.environ.get("CONSENT_DEBUG") == "1":
                traceback.print_exc()
            raise _fail(f"Unexpected {type(exc).__name__}; run again with CONSENT_DEBUG=1 "
                        "for details, and report it if it persists.", 1) from None


app = typer.Typer(
    cls=ConsentGroup,
    name="consent",
    help="exchange-consent: a signed, auditable record of prisoners' stated positions on "
    "exchange and exile.\n\nEvery role's work from a terminal; 'consent demo' tells the "
    "whole story.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("exchange-consent")
        except metadata.PackageNotFoundError:
            version = "unknown"
        typer.echo(f"consent {version}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(
        "--server", envvar="CONSENT_SERVER", show_envvar=True,
        help="The service's address (default: the profile's, or http://127.0.0.1:8000).")
    ] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", envvar="CONSENT_PROFILE", show_envvar=True,
        help="Which local account to use, for several accounts on one machine.")] = None,
    config_dir: Annotated[Path | None, typer.Option(
        "--config-dir", envvar="CONSENT_CONFIG_DIR", show_envvar=True, file_okay=False,
        help="Where sessions, keys and receipts are kept.")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Root options shared by every command."""
    try:
        ctx.obj = State.create(config_dir=config_dir, profile=profile, server=server)
    except CliError as exc:
        raise _fail(exc.message, exc.exit_code) from None


_server.register(app)
_auth.register(app)
app.add_typer(_admin.app, name="admin", rich_help_panel="Admin")
_advocate.register(app)
_compiler.register(app)
_manifest.register(app)
_audit.register(app)
_demo.register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="consent", standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("Error: Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(_quiet_broken_pipe())
