"""The ``consent`` command line: every role's work from a terminal, and ``consent demo``.

It talks to a server over HTTP (``urllib``), signs statements on the advocate's machine
with the passphrase-protected keystore, and verifies the transparency log offline. Run
``consent --help`` for the command tree.
"""

from consent.cli._app import app, main

__all__ = ["app", "main"]
