"""The one error the command line shows: a sentence, and an exit status."""

from __future__ import annotations

__all__ = ["CliError", "UsageError"]


class CliError(Exception):
    """Shown as one sentence on stderr; the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class UsageError(CliError):
    """The command was called wrongly (exit status 2, as for click's own usage errors)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
