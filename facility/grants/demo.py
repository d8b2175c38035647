"""Demo money for `seed-demo`: contributions, funded pools, grants with tranches in several states.

Works with whatever earlier seeders made: without challenges or proposals it
seeds only contributions.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from facility.accounts.models import Role, User
from facility.challenges.models import Challenge, ChallengeStatus, Phase
from facility.core.models import utcnow
from facility.core.providers import stripe_configured
from facility.extensions import db
from facility.grants import (
    amendments,
    award_approvals,
    awards,
    contributions,
    demo_funds,
    demo_stages,
    indicators,
    milestones,
    payouts,
    summaries,
)
from facility.grants.budget import scale_budget
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import Grant, GrantStatus, Tranche
from facility.grants.policy import AWARDABLE_STATUSES, award_approval_state, panel_selects
from facility.ledger.balances import balance
from facility.ledger.services import GENERAL_FUND, UNALLOCATED, pool_account, pool_code, transfer, unallocated_account
from facility.proposals.indicator_models import VALUE_SCALE, Direction, MilestoneIndicator
from facility.proposals.models import BudgetCategory, Proposal, budget_key

DEMO_TRANCHES = 8


def _user(state: dict, email: str, role: Role) -> User | None:
    user = (state.get("users") or {}).get(email)
    if user is None:
        user = db.session.execute(
            sa.select(User).where(User.role_rows.any(role=role))
            .order_by(User.id).limit(1)).scalar_one_or_none()
    return user


def seed_early(state: dict) -> None:
    """Money in first, so that the challenges seeder can fund prize pools when it approves challenges."""
    donor = _user(state, "donor@foundation.demo", Role.DONOR)
    manager = _user(state, "fund.manager@demo.facility", Role.FUND_MANAGER)
    if donor is None or manager is None:
        return
    db.session.flush()
    today = utcnow().date()
    # Contributions: a large wire received, a wire still pledged, a card payment received.
    big = contributions.pledge_contribution(actor=donor, amount_cents=2_500_000_000, method="wire")
    contributions.confirm_wire_contribution(contribution=big, actor=manager, received_cents=2_500_000_000,
                                            received_on=today - timedelta(days=40), bank_reference="DEMO-FT-0001")
    contributions.pledge_contribution(actor=donor, amount_cents=500_000_000, method="wire")
    # The card gift was made anonymously: the public ledger names an "anonymous donor" for it. Without Stripe
    # (no card payments offered) the same gift came by wire.
    if stripe_configured():
        card = contributions.pledge_contribution(actor=donor, amount_cents=25_000, method="stripe", anonymous=True)
        contributions.record_card_contribution(checkout_session_id="cs_demo_0001", contribution_id=card.id,
                                               amount_cents=25_000)
    else:
        gift = contributions.pledge_contribution(actor=donor, amount_cents=25_000, method="wire", anonymous=True)
        contributions.confirm_wire_contribution(contribution=gift, actor=manager, received_cents=25_000,
                                                received_on=today - timedelta(days=10), bank_reference="DEMO-FT-0002")
    demo_funds.seed_earmarked_fund(donor, manager)  # drawn first by the first public-interest-tech approval


def _fund_pools(manager: User) -> list[Challenge]:
    """Fund the pools of public challenges the earlier seeders made (unless already funded on approval)."""
    challenges = db.session.execute(
        sa.select(Challenge).where(Challenge.status.in_((ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)))
        .order_by(Challenge.id)).scalars().all()
    for challenge in challenges:
        if balance(pool_code(challenge.id)) == 0 and balance(unallocated_account().code) >= challenge.prize_pool_cents:
            transfer(key=f"demo-pool:{challenge.id}", actor=manager, kind="pool", source=UNALLOCATED,
                     target=pool_account(challenge.id), amount_cents=challenge.prize_pool_cents, funds=[GENERAL_FUND],
                     description=f"Prize pool of challenge {challenge.id} (demo)")
    return list(challenges)


def _demo_tranches(index: int, proposal: Proposal, amount: int, today: date) -> list[dict] | None:
    if index == 0:
        # Eight tranches, so the disbursements demo can show a payment in every state.
        part = amount // DEMO_TRANCHES
        return [{"title": f"Milestone {n}", "amount_cents": part if n < DEMO_TRANCHES else amount - part * (n - 1),
                 "due_date": today + timedelta(days=30 * n)} for n in range(1, DEMO_TRANCHES + 1)]
    if amount != proposal.requested_cents or sum(m.amount_cents for m in proposal.milestones) != amount:
        first = amount // 2
        return [{"title": "Pilot delivered", "amount_cents": first, "due_date": today + timedelta(days=90)},
                {"title": "Results and handover", "amount_cents": amount - first,
                 "due_date": today + timedelta(days=240)}]
    return None


def planned_spending(tranche: Tranche, *, overspend: dict[BudgetCategory, int] | None = None) -> dict[str, int]:
    """A milestone report's spending as budgeted for the tranche's share of the request, each category
    multiplied by `overspend[category]` (e.g. 3: three times the plan; 0: nothing spent)."""
    proposal = tranche.grant.proposal
    planned = scale_budget(proposal.budget, proposal.requested_cents, tranche.amount_cents)
    factors = overspend or {}
    return {budget_key(category): amount * factors.get(category, 1) for category, amount in planned.items()}


def _grantee_acts(index: int, grant: Grant, proposal: Proposal, grantee: User, manager: User) -> None:
    """The first grant is accepted, paid by bank, with one milestone accepted and one under review."""
    if index != 0:
        if stripe_configured():
            payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe",
                                       stripe_account_id="acct_1DemoGrantee01")
        else:
            payouts.set_payout_account(grant=grant, actor=grantee, rail="manual",
                                       account_holder=proposal.organization.name, bank_name="Demo Savings Bank",
                                       account_number="0098765432")
        return
    awards.accept_grant(grant=grant, actor=grantee)
    payouts.set_payout_account(grant=grant, actor=grantee, rail="manual", account_holder=proposal.organization.name,
                               bank_name="Demo Commercial Bank", account_number="0012345678", swift="DEMOKENA")
    report = milestones.submit_milestone_report(
        tranche=grant.tranches[0], actor=grantee, text="Pilot running in three neighbourhoods.",
        # Staff costs ran well over plan and no equipment was bought yet: the grant page flags both.
        spending=planned_spending(grant.tranches[0], overspend={BudgetCategory.PERSONNEL: 4,
                                                                BudgetCategory.EQUIPMENT: 0}),
        kpi_values={"households reached": 420, "women trained": 65})
    milestones.accept_milestone_report(report=report, actor=manager)
    summaries.write_public_summary(report=report, actor=grantee, text=(
        "The pilot runs in three neighbourhoods: 420 households reached and 65 women trained as operators."))
    if len(grant.tranches) > 1:
        milestones.submit_milestone_report(tranche=grant.tranches[1], actor=grantee,
                                           text="Mid-term results attached in the text below.",
                                           spending=planned_spending(grant.tranches[1]),
                                           kpi_values={"households reached": 900})


def seed(state: dict) -> None:
    manager = _user(state, "fund.manager@demo.facility", Role.FUND_MANAGER)
    if manager is None:
        return
    today = utcnow().date()
    demo_funds.seed_cofunding(state, manager)
    challenges = _fund_pools(manager)
    # Awards: up to two proposals awaiting a decision in closed challenges.
    closed_ids = [c.id for c in challenges if c.status == ChallengeStatus.FINISHED or c.phase == Phase.CLOSED]
    proposals = db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id.in_(closed_ids or [-1]),
                                  Proposal.status.in_(AWARDABLE_STATUSES))
        .order_by(Proposal.id).limit(2)).scalars().all()
    for index, proposal in enumerate(proposals):
        amount = min(proposal.requested_cents, proposal.challenge.max_award_cents, balance(pool_code(proposal.challenge_id)))
        if amount <= 0:
            continue
        grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=amount,
                                      tranches=_demo_tranches(index, proposal, amount, today),
                                      override_reason=None if panel_selects(proposal) else DEMO_OVERRIDE_REASON)
        approve_demo_award(state, grant)
        grantee = db.session.execute(
            sa.select(User).where(User.organization_id == proposal.organization_id).order_by(User.id)
        ).scalars().first()
        if grantee is None or not grantee.has_role(Role.INNOVATOR):
            continue
        _grantee_acts(index, grant, proposal, grantee, manager)
        state.setdefault("demo_grants", []).append(grant)
    db.session.flush()
    _overdue_milestone(state.get("demo_grants", []), today)
    _amended_grant(state, state.get("demo_grants", []))
    state["grants_seeded"] = len(proposals)
    _award_awaiting_approval(state, manager, closed_ids, today)
    demo_stages.seed(state, manager)  # a two-stage challenge, last: it changes none of the objects above


def _award_awaiting_approval(state: dict, manager: User, closed_ids: list[int], today: date) -> None:
    """An award above the approval threshold that one other fund manager has approved and one more must: the
    last proposal awaiting a decision in a closed challenge whose maximum award allows it (awarded against the
    panel, which has not decided: its reason says why)."""
    proposal = db.session.execute(
        sa.select(Proposal).join(Challenge, Challenge.id == Proposal.challenge_id)
        .where(Proposal.challenge_id.in_(closed_ids or [-1]), Proposal.status.in_(AWARDABLE_STATUSES),
               Challenge.max_award_cents >= PENDING_DEMO_CENTS)
        .order_by(Proposal.id.desc()).limit(1)).scalar_one_or_none()
    if proposal is None or balance(pool_code(proposal.challenge_id)) < PENDING_DEMO_CENTS:
        return
    half = PENDING_DEMO_CENTS // 2
    grant = awards.award_proposal(
        proposal=proposal, actor=manager, amount_cents=PENDING_DEMO_CENTS,
        override_reason=None if panel_selects(proposal) else DEMO_OVERRIDE_REASON,
        tranches=[{"title": "Pilot installed", "amount_cents": half, "due_date": today + timedelta(days=120)},
                  {"title": "Results and handover", "amount_cents": PENDING_DEMO_CENTS - half,
                   "due_date": today + timedelta(days=300)}])
    approve_demo_award(state, grant, leave=1)
    state["award_awaiting_approval"] = grant


# --- award governance: an award against the panel's decision, awards approved and awaiting approval ----------

DEMO_OVERRIDE_REASON = (
    "The panel's review ended without a released decision (two reviewers withdrew); the investment committee "
    "read the proposal and the reviews in with the city and awards it so the pilot starts before the rains.")
PENDING_DEMO_CENTS = 6_000_000  # USD 60,000: above the approval threshold (USD 50,000), two approvals
DEMO_APPROVERS = ("fund.manager2@demo.facility", "finance@demo.facility")


def approve_demo_award(state: dict, grant: Grant, *, leave: int = 0) -> None:
    """The demo's other fund managers approve an award awaiting approval, leaving the last `leave` approvals
    still to give (the grant then stays awaiting approval)."""
    approvers = [user for email in DEMO_APPROVERS if (user := (state.get("users") or {}).get(email)) is not None]
    for approver in approvers:
        if grant.status != GrantStatus.PENDING_APPROVAL:
            return
        if leave and award_approval_state(grant).missing <= leave:
            return
        award_approvals.approve_award(grant=grant, actor=approver)


def _overdue_milestone(grants: list[Grant], today: date) -> None:
    """The portfolio's overdue list needs a late milestone: the offered grant's first tranche fell due
    twelve days ago. Awards (rightly) refuse due dates in the past, so the demo moves it back afterwards,
    as the challenges seeder does with its deadlines."""
    offered = next((g for g in grants if g.status == GrantStatus.OFFERED and g.tranches), None)
    if offered is not None:
        offered.tranches[0].due_date = today - timedelta(days=12)


def _amended_grant(state: dict, grants: list[Grant]) -> None:
    """The second demo grant is amended: its second tranche shrinks by USD 5,000 and falls due later
    (in force, the money back in the pool, agreement version 2), and a second amendment adding a
    tranche awaits another fund manager's approval (proposed by the second fund manager)."""
    users = state.get("users") or {}
    manager = users.get("fund.manager@demo.facility")
    second = users.get("fund.manager2@demo.facility") or manager
    grant = next((g for g in grants[1:] if len(g.tranches) > 1 and g.tranches[-1].amount_cents > 1_000_000), None)
    grantee = None if grant is None else db.session.execute(
        sa.select(User).where(User.organization_id == grant.organization_id, User.role_rows.any(role=Role.INNOVATOR))
        .order_by(User.id)).scalars().first()
    if grant is None or manager is None or second is None or grantee is None:
        return

    def schedule(**last: Any) -> list[dict[str, Any]]:
        rows = [{"id": t.id, "title": t.title, "amount_cents": t.amount_cents, "due_date": t.due_date}
                for t in grant.tranches]
        rows[-1].update(last)
        return rows

    last = grant.tranches[-1]
    first = amendments.propose_amendment(
        grant=grant, actor=manager, reason="The city provides the handover venue; the final phase costs less and "
        "starts a month later.", tranches=schedule(amount_cents=last.amount_cents - 500_000,
                                                   due_date=(last.due_date or utcnow().date()) + timedelta(days=30)))
    amendments.accept_amendment(amendment=first, actor=grantee)
    amendments.propose_amendment(
        grant=grant, actor=second, reason="A second district asked to join the pilot.",
        tranches=[*schedule(), {"title": "Second district", "amount_cents": 1_500_000,
                                "due_date": utcnow().date() + timedelta(days=300)}])


DEMO_INDICATOR = "EC: ICT: PS: 1A"  # U4SSC "Open Data"


def measure_demo_grant(grant: Grant, *, grantee: User, manager: User) -> None:
    """A grant measured with an indicator (the portfolio demo's active grant): its milestones name the U4SSC
    Open Data KPI; the first milestone's value is reported and verified, the second tranche is paid only once its
    target is reached, and its value awaits verification (so its payment cannot be requested yet)."""
    if len(grant.tranches) < 2:
        return
    first, second = grant.tranches[0], grant.tranches[1]
    for position, (tranche, target) in enumerate(((first, 10), (second, 40)), start=1):
        terms = dict(code=DEMO_INDICATOR, unit="datasets", baseline_scaled=3 * VALUE_SCALE,
                     target_scaled=target * VALUE_SCALE, direction=Direction.INCREASE,
                     method="Datasets published on the city's open-data portal under an open licence, counted "
                            "on the portal's catalogue.")
        db.session.add(MilestoneIndicator(proposal_id=grant.proposal_id, milestone_position=position, **terms))
        tranche.indicators.append(TrancheIndicator(**terms))
    db.session.flush()
    indicators.set_condition(indicator=second.indicators[0], actor=manager, is_condition=True)
    for tranche, value, text in ((first, "12", "Maps of ten settlements published."),
                                 (second, "42", "The city's open-data portal is live.")):
        report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text=text,
                                                    spending=planned_spending(tranche))
        milestones.accept_milestone_report(report=report, actor=manager)
        reading = indicators.report_reading(indicator=tranche.indicators[0], actor=grantee, value=value,
                                            note="Counted on the portal's catalogue; see the milestone report.")
        if tranche is first:
            indicators.verify_reading(reading=reading, actor=manager, comment="Checked on the portal.")
    db.session.flush()
