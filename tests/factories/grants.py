"""Grants: awarded, accepted, with a payout account and accepted milestone evidence, through the services."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from facility.accounts.models import User
from facility.extensions import db
from facility.grants import awards, milestones, payouts
from facility.grants.models import Grant
from facility.proposals.models import Proposal


def spending(**cents: int) -> dict[str, int]:
    """A milestone report's spending: every category, zero unless given (`personnel=1500_00`, ...)."""
    return {f"{name}_cents": cents.get(name, 0) for name in ("personnel", "equipment", "services", "travel", "other")}


NO_SPENDING = spending()

MANUAL_ACCOUNT = dict(account_holder="WaterWatch", bank_name="Dutch-Bangla Bank", iban="GB82WEST12345698765432",
                      swift="DBBLBDDH")


def make_grant(proposal: Proposal, manager: User, grantee: User | None = None, *, amount_cents: int | None = None,
               tranches: Sequence[Any] | None = None, accept: bool = True, rail: str | None = None,
               stripe_account: str = "acct_1Grantee01", accepted_reports: Iterable[int] = ()) -> Grant:
    """`manager` awards `proposal` (its full request unless `amount_cents`); the grantee's innovator accepts
    it (offered -> active) unless accept=False, sets a payout account on `rail` ("stripe" or "manual") if
    given, and has the evidence of the tranches at the positions in `accepted_reports` accepted by `manager`.
    The facility must hold the money in the challenge's pool."""
    grant = awards.award_proposal(proposal=proposal, actor=manager,
                                  amount_cents=proposal.requested_cents if amount_cents is None else amount_cents,
                                  tranches=tranches)
    if accept:
        awards.accept_grant(grant=grant, actor=grantee)
    if rail == "stripe":
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id=stripe_account)
    elif rail == "manual":
        payouts.set_payout_account(grant=grant, actor=grantee, rail="manual", **MANUAL_ACCOUNT)
    for position in accepted_reports:
        tranche = grant.tranches[position - 1]
        report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Done, see the photos.",
                                                    spending=NO_SPENDING)
        milestones.accept_milestone_report(report=report, actor=manager)
    db.session.commit()
    return grant
