"""One set of builders for the whole suite, one module per domain package.

Builders go through the services (`facility/<package>/services.py` or the concept modules) by
default, so that an object is in a state the platform itself could have put it in. Where a test
needs what the services refuse or would book elsewhere (a window already in the past, a status
reached without touching the ledger or the audit trail), a builder takes `via="models"` and builds
the rows directly; that is said at the call.

Fixtures in `tests/conftest.py` and the package conftests are thin wrappers over these functions.
"""
from __future__ import annotations

from datetime import UTC, datetime

# Tests freeze the clock here (the `clock` fixture) unless they say otherwise.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "a-long-test-password-42"

from tests.factories import accounts, challenges, cities, disbursements, grants, ledger, proposals, world  # noqa: E402

__all__ = ["NOW", "PASSWORD", "accounts", "challenges", "cities", "disbursements", "grants", "ledger", "proposals", "world"]
