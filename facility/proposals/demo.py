"""Demo proposals in every state (draft, submitted, withdrawn) to the published challenges."""
from __future__ import annotations

from datetime import timedelta

import click
import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind, OrgType, Role, User
from facility.accounts.services import hash_password
from facility.challenges.models import Challenge, ChallengeStatus
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals import services
from facility.proposals.models import (
    PROPOSAL_TRANSITIONS,
    BudgetCategory,
    Milestone,
    Proposal,
    ProposalBudgetLine,
    ProposalSnapshot,
    ProposalStatus,
)

# An extra applicant so that lists and panels have more than two rows.
EXTRA_ORG = dict(name="Kibera Mapping Collective", kind=OrgKind.INNOVATOR,
                 org_type=OrgType.COMMUNITY_ORGANIZATION, country="KEN")
EXTRA_USER = ("team@kiberamap.demo", "Innovator (mapping collective)")

IDEAS = {
    "solarkiosk": ("SMS alerts from solar-powered sensor kiosks",
                   "Solar kiosks with river-level sensors send SMS warnings in local languages.",
                   "We install **solar kiosks** with sensors and send SMS alerts:\n\n"
                   "1. Sensors at upstream points\n2. Alerts in Luganda and English\n3. Open data feed for the city",
                   "Two engineers and a community liaison; five years of kiosk operations in East Africa.",
                   ["urban_poor", "women", "children"]),
    "waterwatch": ("Community-run water and flood watch",
                   "Trained residents report water levels and hazards; a dashboard shows the city where to act.",
                   "Residents use a *basic-phone* reporting line; reports are verified and mapped openly.",
                   "A network of 40 trained volunteers coordinated by two field officers.",
                   ["urban_poor", "women", "older_people", "persons_with_disabilities"]),
    "kiberamap": ("Open maps of every lane and drain",
                  "Community mapping of drains and lanes so that services reach every household.",
                  "We map with residents using OpenStreetMap and publish the data under ODbL.",
                  "Twelve youth mappers and a GIS lead.",
                  ["youth", "urban_poor", "migrants"]),
}
# Shares of the request per budget category, in percent (the rest is "other").
BUDGET_SHARES = ((BudgetCategory.PERSONNEL, 50), (BudgetCategory.EQUIPMENT, 25), (BudgetCategory.SERVICES, 15),
                 (BudgetCategory.TRAVEL, 5))
PRIVACY = ("We collect phone numbers only with consent, keep them for 90 days, never share them, and "
           "publish only aggregated data. Residents can ask for deletion by SMS.")


def _applicants(state: dict) -> list[tuple[str, Organization, User]]:
    orgs, users = state.get("orgs", {}), state.get("users", {})
    applicants = []
    for key, email in (("solarkiosk", "founder@solarkiosk.demo"), ("waterwatch", "lead@waterwatch.demo")):
        if key in orgs and email in users:
            applicants.append((key, orgs[key], users[email]))
    org = Organization(**EXTRA_ORG)
    user = User(email=EXTRA_USER[0], name=EXTRA_USER[1], organization=org,
                password_hash=hash_password(state.get("password", "demo-facility-2026")))
    user.add_role(Role.INNOVATOR)
    db.session.add_all([org, user])
    applicants.append(("kiberamap", org, user))
    return applicants


def _build(challenge: Challenge, key: str, org: Organization, user: User, status: ProposalStatus) -> Proposal:
    title, summary, approach, team, groups = IDEAS[key]
    requested = min(challenge.max_award_cents, 60_000_00)
    first = requested // 3
    # Built directly (not through the services): the demo needs history in challenges that have closed.
    proposal = Proposal(challenge=challenge, organization=org, created_by_id=user.id, title=title, summary=summary,
                        approach=approach, team=team, requested_cents=requested, beneficiary_groups=groups,
                        privacy_impact=PRIVACY, status=ProposalStatus.DRAFT)
    start = challenge.closes_at.date()
    proposal.milestones = [
        Milestone(position=1, title="Pilot in two neighbourhoods", due_date=start + timedelta(days=120),
                  amount_cents=first, deliverable="Working pilot and a short public report"),
        Milestone(position=2, title="City-wide roll-out", due_date=start + timedelta(days=365),
                  amount_cents=requested - first, deliverable="Full coverage and open data published"),
    ]
    proposal.budget_lines = demo_budget(requested)
    db.session.add(proposal)
    db.session.flush()
    if status in (ProposalStatus.SUBMITTED, ProposalStatus.WITHDRAWN):
        submitted_at = min(utcnow(), challenge.closes_at - timedelta(days=1))
        PROPOSAL_TRANSITIONS.move(proposal, ProposalStatus.SUBMITTED)
        proposal.submitted_at = submitted_at
        db.session.add(ProposalSnapshot(proposal=proposal, version=1, data=services.snapshot_data(proposal),
                                        created_at=submitted_at))
    if status == ProposalStatus.WITHDRAWN:
        PROPOSAL_TRANSITIONS.move(proposal, ProposalStatus.WITHDRAWN)
        assert proposal.submitted_at is not None  # set above for every status past draft
        proposal.withdrawn_at = proposal.submitted_at + timedelta(hours=6)
    return proposal


def demo_budget(requested: int) -> list[ProposalBudgetLine]:
    """A budget by category that adds up to the request, as submission requires."""
    lines = [ProposalBudgetLine(category=category, amount_cents=requested * share // 100)
             for category, share in BUDGET_SHARES]
    rest = requested - sum(line.amount_cents for line in lines)
    return [*lines, ProposalBudgetLine(category=BudgetCategory.OTHER, amount_cents=rest)]


def seed(state: dict) -> None:
    challenges = db.session.execute(
        sa.select(Challenge).where(Challenge.status.in_([ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED]))
        .order_by(Challenge.closes_at)
    ).scalars().all()
    now = utcnow()
    challenges = [c for c in challenges if c.opens_at <= now]  # nobody can have applied to an upcoming one
    if not challenges:
        click.echo("  no published challenges: skipping demo proposals")
        return
    applicants = _applicants(state)
    proposals: list[Proposal] = []
    for challenge in challenges:
        # While open: one of each state. After close: only submitted ones remain interesting (three, so that
        # the demo can award, approve, cancel and still leave a proposal to decide on).
        states = ([ProposalStatus.SUBMITTED, ProposalStatus.DRAFT, ProposalStatus.WITHDRAWN] if challenge.is_open
                  else [ProposalStatus.SUBMITTED, ProposalStatus.SUBMITTED, ProposalStatus.SUBMITTED])
        for (key, org, user), status in zip(applicants, states, strict=False):
            proposals.append(_build(challenge, key, org, user, status))
    db.session.flush()
    state["proposals"] = proposals
