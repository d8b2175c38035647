"""Page-side permission helpers. Object rules live in each package's `policy.py` (`can_<action>(user, obj)`);
`role_required` only turns away, before the page loads anything, people whose role the policy refuses anyway."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort
from flask_login import current_user, login_required

from facility.accounts.models import Role
from facility.accounts.policy import is_auditor, read_only_reason
from facility.core.errors import PermissionDenied


def role_required(*roles: Role | str) -> Callable:
    """Anonymous callers are sent to sign in; signed-in callers without one of `roles` get 403."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                if is_auditor(current_user):  # told why: the role reads everything and changes nothing
                    raise PermissionDenied(read_only_reason())
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
