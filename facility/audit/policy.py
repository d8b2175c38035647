"""Who may read the audit trail: one `can_<action>(user)` per action.

The audit package sits just above core, below accounts (every package writes to the trail), so it
cannot import `accounts.policy`. It names the reader roles by their stored values instead; a test
(`tests/audit/test_views.py`) checks them against `accounts.models.Role`, and against
`accounts.policy.reads_everything`, so the two lists cannot drift apart.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.core.policy import Decision, forbidden

READER_ROLES = ("fund_manager", "admin", "auditor")
"""`Role.FUND_MANAGER`, `Role.ADMIN`, `Role.AUDITOR`: the people who read everything."""


def _reads_everything(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(*READER_ROLES))


def can_view_audit(user: Any, _obj: Any = None) -> Decision:
    """Fund managers, admins and auditors search the audit trail, check its chain and export it.

    Nobody changes it: the trail is append-only (`audit.models`), so there is no write action here."""
    if _reads_everything(user):
        return None
    return forbidden(_("Only fund managers, administrators and auditors see the audit trail."))


def can_view_anchors(_user: Any, _obj: Any = None) -> Decision:
    """Everyone, signed in or not, reads the chain's anchors: they are published so outsiders can keep them.

    An anchor is a record id, a count, a time and a hash: it reveals nothing of what the trail says."""
    return None
