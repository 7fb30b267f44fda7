"""Terminal output: plain lines, tables, JSON for scripts, progress only on a terminal."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from consent.cli._errors import CliError

__all__ = ["Ticker", "confirm", "emit_json", "err", "out", "progress", "prompt_secret",
           "stdout_is_terminal", "table"]


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stderr: bool = False) -> Console:
    # A fresh console per call: tests swap sys.stdout, and rich caches the stream otherwise.
    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False,
                   soft_wrap=True, emoji=False)


def out(text: str = "") -> None:
    typer.echo(text)


def err(text: str) -> None:
    typer.echo(text, err=True)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on a terminal; tab-separated columns with a header line in a pipe."""
    if not stdout_is_terminal():
        typer.echo("\t".join(headers))
        for row in rows:
            typer.echo("\t".join("" if c is None else str(c) for c in row))
        return
    grid = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*("" if c is None else str(c) for c in row))
    _console().print(grid)


def confirm(question: str, *, assume_yes: bool, to_stderr: bool = False) -> None:
    """Ask before doing something that cannot be undone; refuse if nobody can answer."""
    if assume_yes:
        return
    try:
        answer = typer.confirm(question, default=False, err=to_stderr)
    except typer.Abort:
        answer = False
    if not answer:
        raise CliError("Cancelled: nothing was signed or sent.")


def prompt_secret(label: str, env_var: str | None = None, *, confirm_it: bool = False) -> str:
    """A secret from ``env_var`` when set (for scripts), else a hidden prompt."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm_it)
    return value


class Ticker(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def total(self, total: int) -> None: ...

    def completed(self, done: int) -> None: ...


class _Quiet:
    def advance(self, amount: int = 1) -> None:
        return None

    def total(self, total: int) -> None:
        return None

    def completed(self, done: int) -> None:
        return None


class _Bar:
    def __init__(self, bar: Progress, task: Any) -> None:
        self._bar = bar
        self._task = task

    def advance(self, amount: int = 1) -> None:
        self._bar.advance(self._task, amount)

    def total(self, total: int) -> None:
        self._bar.update(self._task, total=total)

    def completed(self, done: int) -> None:
        self._bar.update(self._task, completed=done)


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Ticker]:
    """A progress bar on stderr when stdout is a terminal; nothing at all in a pipe."""
    if not stdout_is_terminal():
        yield _Quiet()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=_console(stderr=True), transient=True) as bar:
        yield _Bar(bar, bar.add_task(description, total=total))


def kv(pairs: Mapping[str, Any]) -> None:
    width = max((len(k) for k in pairs), default=0)
    for key, value in pairs.items():
        typer.echo(f"{key + ':':<{width + 1}} {'' if value is None else value}")
