"""Demo data for the results framework (`seed-demo`, after every package's own seeder).

So that every chart of `/results` has data: wires received over the past five quarters (capital
raised per quarter, the rate and the projection), and one more grant beside those the grants seeder
makes, in a small island city (Suva: small, SIDS, public-interest technology, other SDG 11 targets
and beneficiary groups) to an SME (a second technology company engaged). Everything goes through
the services, as the platform itself would have done it; only the challenge's window is moved into
the past afterwards, as the challenges seeder does, because the services refuse past deadlines.
"""
from __future__ import annotations

from datetime import timedelta

from facility.accounts.models import Organization, OrgKind, OrgType, Role, User
from facility.challenges import services as challenge_services
from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards, contributions
from facility.grants import demo as grants_demo
from facility.proposals.demo import demo_budget
from facility.proposals.models import PROPOSAL_TRANSITIONS, Milestone, Proposal, ProposalStatus

# days ago the bank received it, USD, bank reference
PAST_WIRES = [(450, 15_000_000, "DEMO-FT-0101"), (360, 20_000_000, "DEMO-FT-0102"),
              (270, 10_000_000, "DEMO-FT-0103"), (180, 30_000_000, "DEMO-FT-0104"), (95, 12_000_000, "DEMO-FT-0105")]
SME = dict(name="Pacific Data Works", kind=OrgKind.INNOVATOR, org_type=OrgType.SME, country="FJI")
GRANT_USD = 60_000
SUVA_OVERRIDE_REASON = ("The challenge received a single eligible proposal and the city's panel could not sit before "
                        "the cyclone season; the investment committee reviewed it with the city instead.")


def _past_wires(donor: User, manager: User) -> None:
    today = utcnow().date()
    for days, usd, reference in PAST_WIRES:
        wire = contributions.pledge_contribution(actor=donor, amount_cents=usd * 100, method="wire")
        contributions.confirm_wire_contribution(contribution=wire, actor=manager, received_cents=usd * 100,
                                                received_on=today - timedelta(days=days), bank_reference=reference)


def _closed_challenge(official: User, manager: User, city: City) -> Challenge:
    now = utcnow().replace(second=0, microsecond=0)
    challenge = challenge_services.create_challenge(
        actor=official, city=city, title="Open flood and heat data for every settlement",
        summary="Open, shared data on flooding and heat so that Suva's settlements are served first.",
        description="## The problem\n\nFlood and heat data are scattered and closed.",
        focus_area="public_interest_tech", sdg_targets=["11.5", "11.7", "11.b"], prize_pool_cents=20_000_000,
        max_award_cents=GRANT_USD * 100, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=30),
        eligible_org_types=[], eligible_countries=[],
        criteria=[{"name": "Impact", "description": "Who benefits", "weight": 60},
                  {"name": "Openness", "description": "Open standards", "weight": 40}])
    challenge_services.submit_challenge(challenge=challenge, actor=official)
    challenge_services.approve_challenge(challenge=challenge, actor=manager)  # funds the pool from unallocated
    challenge.opens_at, challenge.closes_at = now - timedelta(days=150), now - timedelta(days=60)
    db.session.flush()
    return challenge


def _submitted_proposal(challenge: Challenge, org: Organization, user: User) -> Proposal:
    # Built as rows, as the proposals seeder does: the challenge closed before today.
    proposal = Proposal(challenge=challenge, organization=org, created_by_id=user.id,
                        title="Shared flood and heat maps", summary="Open maps built with the settlements.",
                        approach="Sensors, community reports and open data.", team="Four data engineers.",
                        requested_cents=GRANT_USD * 100,
                        beneficiary_groups=["older_people", "persons_with_disabilities", "youth"],
                        privacy_impact="No personal data is published; reports are anonymised.",
                        status=ProposalStatus.DRAFT)
    start = challenge.closes_at.date()
    proposal.milestones = [
        Milestone(position=1, title="Maps of ten settlements", due_date=start + timedelta(days=120),
                  amount_cents=GRANT_USD * 40, deliverable="Open maps"),
        Milestone(position=2, title="City-wide open data", due_date=start + timedelta(days=300),
                  amount_cents=GRANT_USD * 60, deliverable="Open data portal"),
    ]
    proposal.budget_lines = demo_budget(proposal.requested_cents)
    db.session.add(proposal)
    db.session.flush()
    PROPOSAL_TRANSITIONS.move(proposal, ProposalStatus.SUBMITTED)
    proposal.submitted_at = challenge.closes_at - timedelta(days=2)
    db.session.flush()
    return proposal


def seed(state: dict) -> None:
    users, cities = state.get("users") or {}, state.get("cities") or {}
    donor, manager = users.get("donor@foundation.demo"), users.get("fund.manager@demo.facility")
    official, admin = users.get("official@suva.demo"), users.get("admin@demo.facility")
    if donor is None or manager is None:
        return
    _past_wires(donor, manager)
    if official is None or admin is None or "Suva" not in cities:
        return
    org = Organization(**SME)
    user = User(email="team@pacificdata.demo", name="Innovator (SME)", organization=org,
                password_hash=admin.password_hash)
    user.add_role(Role.INNOVATOR)
    db.session.add_all([org, user])
    db.session.flush()
    challenge = _closed_challenge(official, manager, cities["Suva"])
    proposal = _submitted_proposal(challenge, org, user)
    # Suva's only proposal was awarded before its panel sat (the award's reason says why), above the approval
    # threshold: the other fund managers approved it (grants.demo).
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=GRANT_USD * 100,
                                  override_reason=SUVA_OVERRIDE_REASON)
    grants_demo.approve_demo_award(state, grant)
    awards.accept_grant(grant=grant, actor=user)
    grants_demo.measure_demo_grant(grant, grantee=user, manager=manager)  # a tranche paid on a verified KPI
    db.session.flush()
