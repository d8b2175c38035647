"""Page-side permission helpers. Object rules live on the objects (`x.can_edit(user)`)."""
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
