"""Demo disbursements for `seed-demo`: one payment in every state, on the grant the grants seeder made active;
then money coming back (a refund of part of a paid tranche) and a cancelled grant.

The states come from the real services. Where a payment provider would answer
(Stripe), the demo records the answer the worker would have recorded, so no
network is needed; the queued and retrying payments are picked up by the
worker that `make run` starts. Without a Stripe key the grantee is never moved
to Stripe (no Stripe payout is offered then): every payment is a bank transfer.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from facility.accounts.models import Role, User
from facility.core.models import utcnow
from facility.core.providers import stripe_configured
from facility.disbursements import payments, requests
from facility.disbursements.jobs import enqueue_after_commit
from facility.disbursements.models import Disbursement
from facility.disbursements.rails import ManualRail, PaymentStatus, RailResult
from facility.extensions import db
from facility.grants import awards, cancellation, milestones, payouts, refunds
from facility.grants.demo import planned_spending
from facility.grants.models import Grant, GrantStatus, Tranche, TrancheStatus
from facility.grants.policy import AWARDABLE_STATUSES, can_award_overriding
from facility.ledger.balances import balance
from facility.ledger.services import pool_code
from facility.proposals.models import Proposal


def _approved(tranche: Tranche, requester: User, approver: User) -> Disbursement:
    disbursement = requests.request_disbursement(tranche=tranche, actor=requester)
    requests.approve_disbursement(disbursement=disbursement, actor=approver)
    return disbursement


def _worker_answers(disbursement: Disbursement, result: RailResult) -> None:
    """What the payment job does, with the provider's answer given."""
    payments.claim_disbursement(disbursement_id=disbursement.id)
    payments.record_payment_result(disbursement_id=disbursement.id, result=result, enqueue=enqueue_after_commit)


def seed(state: dict[str, Any]) -> None:
    users = state.get("users") or {}
    requester, approver = users.get("fund.manager@demo.facility"), users.get("fund.manager2@demo.facility")
    confirmer = users.get("finance@demo.facility")  # neither requester nor approver (policy.can_confirm)
    grant = next((g for g in state.get("demo_grants", []) if g.status == GrantStatus.ACTIVE), None)
    if requester is None or approver is None or confirmer is None or grant is None or len(grant.tranches) < 8:
        return
    grantee = next((u for u in users.values() if u.organization_id == grant.organization_id
                    and u.has_role(Role.INNOVATOR)), None)
    if grantee is None:
        return
    tranches = grant.tranches
    for tranche in tranches:  # every milestone reported and accepted
        if tranche.status == TrancheStatus.PENDING:
            milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Delivered as planned (demo).",
                                               spending=planned_spending(tranche))
        for report in tranche.reports:
            if tranche.status == TrancheStatus.EVIDENCE_SUBMITTED:
                milestones.accept_milestone_report(report=report, actor=requester)
    db.session.flush()

    # Manual rail (bank transfer made by the finance team).
    paid = _approved(tranches[0], requester, approver)
    _worker_answers(paid, _manual_instruction(paid))
    # Paid in the grantee's currency: the bank converted the US dollars into shillings at the rate it quoted.
    requests.confirm_manual_payment(disbursement=paid, actor=confirmer, bank_reference="DEMO-BANK-20261101",
                                    local_currency="KES", exchange_rate="129.25")
    waiting = _approved(tranches[1], requester, approver)
    _worker_answers(waiting, _manual_instruction(waiting))
    refused = _approved(tranches[2], requester, approver)
    _worker_answers(refused, _manual_instruction(refused))
    requests.fail_manual_payment(disbursement=refused, actor=approver,
                                 reason="The bank returned the transfer: account name does not match (demo).")
    cancelled = requests.request_disbursement(tranche=tranches[3], actor=requester)
    requests.cancel_disbursement(disbursement=cancelled, actor=approver, reason="Requested twice by mistake (demo).")
    requests.request_disbursement(tranche=tranches[3], actor=requester)  # awaiting a second fund manager
    queued = _approved(tranches[4], requester, approver)  # queued: the worker prepares the bank instruction

    # Where Stripe is configured the grantee then moves to Stripe Connect, and the next payments go there;
    # without Stripe they stay on the bank (no Stripe payout is offered then).
    if stripe_configured():
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="acct_1DemoGrantee02",
                                   confirm_password=state["password"])
        db.session.flush()
    paid_later = _approved(tranches[5], requester, approver)
    if stripe_configured():
        _worker_answers(paid_later, RailResult(PaymentStatus.PAID, provider_reference="tr_demo_0000000001"))
    else:
        _worker_answers(paid_later, _manual_instruction(paid_later))
        requests.confirm_manual_payment(disbursement=paid_later, actor=confirmer, bank_reference="DEMO-BANK-20261115")
    retrying = _approved(tranches[6], requester, approver)
    _worker_answers(retrying, RailResult(PaymentStatus.RETRYABLE, retry_after_seconds=3600,  # retried within the hour
                                         message="The payment service did not answer in time (demo)."))
    processing = _approved(tranches[7], requester, approver)
    payments.claim_disbursement(disbursement_id=processing.id)  # a worker has it now
    db.session.flush()
    _age({waiting.id: 12, refused.id: 40, queued.id: 3})
    _refund(grant, tranches[0], approver)
    _cancelled_grant(state, requester)


def _refund(grant: Grant, paid: Tranche, manager: User) -> None:
    """The grantee sent back part of its first, paid tranche: unspent equipment money, back to the pool."""
    refunds.record_refund(grant=grant, actor=manager, amount_cents=max(paid.amount_cents // 5, 1),
                          bank_reference="DEMO-RET-20261120", received_on=utcnow().date() - timedelta(days=3),
                          destination="pool", note="Unspent equipment budget returned by the grantee (demo).")


def _cancelled_grant(state: dict[str, Any], manager: User) -> None:
    """Another proposal still awaiting a decision in a closed challenge is awarded, accepted, and then cancelled:
    its commitment goes back to the challenge's pool."""
    users = state.get("users") or {}
    for proposal in db.session.execute(sa.select(Proposal).where(Proposal.status.in_(AWARDABLE_STATUSES))
                                       .order_by(Proposal.id.desc())).scalars():
        grantee = next((u for u in users.values() if u.organization_id == proposal.organization_id
                        and u.has_role(Role.INNOVATOR)), None)
        amount = min(proposal.requested_cents, proposal.challenge.max_award_cents)
        if (grantee is None or can_award_overriding(manager, proposal) is not None
                or balance(pool_code(proposal.challenge_id)) < amount):
            continue
        grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=amount, override_reason=(
            "The panel released no decision for this round; the city asked for the pilot before the rainy season "
            "(demo)."))
        if grant.status is GrantStatus.OFFERED:
            awards.accept_grant(grant=grant, actor=grantee)
        cancellation.cancel_grant(grant=grant, actor=manager, reason=(
            "The city withdrew the permit for the pilot site after the floods; the grantee agreed to stop (demo)."))
        db.session.flush()
        return


def _age(days_by_id: dict[int, int]) -> None:
    """The portfolio shows payments waiting by age; the demo's were all requested just now, so some are
    dated back (as the challenges seeder dates its deadlines back): waiting 3, 12 and 40 days."""
    now = utcnow()
    for disbursement_id, days in days_by_id.items():
        db.session.execute(sa.update(Disbursement).where(Disbursement.id == disbursement_id)
                           .values(created_at=now - timedelta(days=days)).execution_options(synchronize_session=False))


def _manual_instruction(disbursement: Disbursement) -> RailResult:
    return ManualRail().pay(payments.payment_request_for(disbursement))
