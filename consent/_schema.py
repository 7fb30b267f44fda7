"""Every table of the service, in one metadata, for Alembic and for tests."""

from __future__ import annotations

import audit.storage
import consent._tables
from consent._tables import metadata

__all__ = ["metadata"]

assert consent._tables and audit.storage  # imported for their tables
