"""Who may do what with contributions, grants, tranches, payout details and milestone reports."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.policy import is_member_of, is_staff
from facility.core.policy import Decision, hidden
from facility.grants.models import Grant


def can_view_grant(user: Any, grant: Grant) -> Decision:
    """The grantee organisation and staff see a grant's full record (the public see the register)."""
    if is_staff(user) or is_member_of(user, grant.organization_id):
        return None
    return hidden(_("No grant %(id)s.", id=grant.id))
