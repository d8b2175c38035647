"""Keys other packages add to a grant's API representation (`GET /api/v1/grants/{id}`).

The disbursements package registers "disbursements" here (grants may not import it); the wiring
happens where that package registers itself with the app.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facility.grants.models import Grant

GrantExtra = Callable[[Grant], Any]
_grant_extras: dict[str, GrantExtra] = {}


def register_grant_extra(name: str, fn: GrantExtra) -> GrantExtra:
    """Add a key to `GET /api/v1/grants/{id}`: `fn(grant)` returns its JSON-ready value."""
    _grant_extras[name] = fn
    return fn


def unregister_grant_extra(name: str) -> GrantExtra | None:
    """Remove a key; returns what was registered under it (so a test can put it back)."""
    return _grant_extras.pop(name, None)


def grant_extras(grant: Grant) -> dict[str, Any]:
    return {name: fn(grant) for name, fn in _grant_extras.items()}
