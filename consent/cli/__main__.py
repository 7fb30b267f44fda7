"""``python -m consent.cli``: the same as the ``consent`` console script."""

from consent.cli._app import main

main()
