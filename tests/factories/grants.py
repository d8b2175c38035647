"""Grants: awarded, accepted, with a payout account and accepted milestone evidence, through the services."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask import current_app

from facility.accounts.authority import senior_limit_cents
from facility.accounts.models import User
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import award_approvals, awards, milestones, payouts
from facility.grants.models import Grant, GrantStatus
from facility.grants.policy import panel_selects
from facility.proposals.models import Proposal
from facility.review.models import Decision, DecisionKind
from tests.factories.accounts import make_user


def spending(**cents: int) -> dict[str, int]:
    """A milestone report's spending: every category, zero unless given (`personnel=1500_00`, ...)."""
    return {f"{name}_cents": cents.get(name, 0) for name in ("personnel", "equipment", "services", "travel", "other")}


NO_SPENDING = spending()

OFFLINE_STRIPE_KEY = "sk_test_offline"  # Stripe configured, but nothing listens: no test reaches the network


@contextmanager
def stripe_given() -> Iterator[None]:
    """Card pledges and Stripe payout accounts are only taken where Stripe is configured: builders that make
    them do so as an installation with Stripe would, and put the setting back (a test's app may have none)."""
    config = current_app.config
    saved = config.get("STRIPE_API_KEY")
    if not saved:
        config["STRIPE_API_KEY"] = OFFLINE_STRIPE_KEY
    try:
        yield
    finally:
        config["STRIPE_API_KEY"] = saved


MANUAL_ACCOUNT = dict(account_holder="WaterWatch", bank_name="Dutch-Bangla Bank", iban="GB82WEST12345698765432",
                      swift="DBBLBDDH")


def recommend(proposal: Proposal, manager: User | None = None) -> None:
    """The panel's released decision recommends `proposal` for an award (a released decision row, as if the
    panel had decided and released it), unless it already does."""
    if panel_selects(proposal):
        return
    by = manager.id if manager is not None else None
    db.session.add(Decision(challenge_id=proposal.challenge_id, proposal_id=proposal.id,
                            kind=DecisionKind.AWARD_RECOMMENDATION, created_by_id=by, released_at=utcnow(),
                            released_by_id=by))
    db.session.flush()


def approve_fully(grant: Grant) -> Grant:
    """Approve an award awaiting approval (`award_approvals.approve_award`) by as many new fund managers, each
    with a senior limit, as its tier needs; a grant not awaiting approval is left as it is."""
    while grant.status == GrantStatus.PENDING_APPROVAL:
        approver = make_user("fund_manager", name="Award Approver")
        approver.approval_limit_cents = max(grant.amount_cents, senior_limit_cents())  # type: ignore[attr-defined]
        grant = award_approvals.approve_award(grant=grant, actor=approver)
    return grant


def award(proposal: Proposal, manager: User, **kwargs: Any) -> Grant:
    """`manager` awards `proposal` as the panel recommended (`recommend`), approved when it needs approval."""
    recommend(proposal, manager)
    return approve_fully(awards.award_proposal(proposal=proposal, actor=manager, **kwargs))


def make_grant(proposal: Proposal, manager: User, grantee: User | None = None, *, amount_cents: int | None = None,
               tranches: Sequence[Any] | None = None, accept: bool = True, rail: str | None = None,
               stripe_account: str = "acct_1Grantee01", accepted_reports: Iterable[int] = ()) -> Grant:
    """`manager` awards `proposal` (its full request unless `amount_cents`) as the panel recommended, approved
    by other fund managers when it needs approval (`award`); the grantee's innovator accepts
    it (offered -> active) unless accept=False, sets a payout account on `rail` ("stripe" or "manual") if
    given, and has the evidence of the tranches at the positions in `accepted_reports` accepted by `manager`.
    The facility must hold the money in the challenge's pool."""
    grant = award(proposal, manager, amount_cents=proposal.requested_cents if amount_cents is None else amount_cents,
                  tranches=tranches)
    if accept:
        awards.accept_grant(grant=grant, actor=grantee)
    if rail == "stripe":
        with stripe_given():
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
