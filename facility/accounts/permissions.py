"""Page-side permission helpers. Object rules live in each package's `policy.py` (`can_<action>(user, obj)`);
`role_required` only turns away, before the page loads anything, people whose role the policy refuses anyway."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort
from flask_login import current_user, login_required

from facility.accounts.models import Role


def role_required(*roles: Role | str) -> Callable:
    """Anonymous callers are sent to sign in; signed-in callers without one of `roles` get 403."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
