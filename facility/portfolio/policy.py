"""Who may see the portfolio's staff views. The public side (register, public ledger, results,
open data) is open to everyone and asks no policy; what it leaves out is decided by its queries."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.accounts.policy import has_role
from facility.core.policy import Decision, forbidden


def can_view_portfolio(user: Any) -> Decision:
    """Fund managers, admins and auditors see the whole portfolio: pipeline, forecast, overdue work."""
    if has_role(user, Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR):
        return None
    return forbidden(_("Only the facility's staff and auditors see the portfolio."))


def can_export_portfolio(user: Any) -> Decision:
    """The same people download the portfolio's tables (grants, tranches, payments, contributions,
    proposals) as CSV or XLSX: an export shows nothing the portfolio pages do not."""
    return can_view_portfolio(user)
