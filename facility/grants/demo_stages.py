"""Demo of a staged prize (`seed-demo`): a finished "Pilot" stage in Kathmandu with two grants (one with every
milestone accepted, one still reporting) and its published, invitation-only "Scale" stage, into which the
pilot's finished grantee is invited with the reason. Runs after the grants demo, so it changes none of its
objects (nor the Kampala and Suva ones the permission matrix relies on)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from facility.accounts.models import User
from facility.challenges import services as challenge_services
from facility.challenges import stages as challenge_stages
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards, milestones, stages
from facility.grants.budget import scale_budget
from facility.grants.models import Grant
from facility.proposals.demo import _build
from facility.proposals.models import ProposalStatus, budget_key

PILOT_TITLE = "Safe water kiosks in informal wards: Pilot"
RUBRIC = [
    {"name": "Households reached", "description": "How many, and how poor.", "weight": 50},
    {"name": "Cost per household", "description": "What the pilot's figures show.", "weight": 30},
    {"name": "Openness", "description": "Open data and open designs.", "weight": 20},
]
OVERRIDE_REASON = ("The pilot stage ran without a review panel: the city and the facility chose its test grants "
                   "together, as the call for pilots said.")
ADVANCE_REASON = ("Every pilot milestone was accepted: 12 kiosks in three wards served 2,400 households at USD 4 "
                  "a household, and the ward committees asked for more.")


def seed(state: dict, manager: User) -> None:
    """The two stages, if the demo has Kathmandu, its official and the two demo innovator organisations."""
    cities, users, orgs = state.get("cities") or {}, state.get("users") or {}, state.get("orgs") or {}
    city = cities.get("Kathmandu")
    official = next((u for u in users.values() if city is not None and u.organization is city.organization), None)
    applicants: list[tuple[str, Any, Any]] = [(key, orgs.get(key), users.get(email)) for key, email in
                  (("solarkiosk", "founder@solarkiosk.demo"), ("waterwatch", "lead@waterwatch.demo"))]
    if city is None or official is None or any(org is None or user is None for _k, org, user in applicants):
        return
    now = utcnow().replace(second=0, microsecond=0)
    pilot = challenge_services.create_challenge(
        actor=official, city=city, title=PILOT_TITLE,
        summary="Test small solar water kiosks in three wards before the city pays for them everywhere.",
        description="## The pilot\n\nSeveral small test grants; the pilots whose milestones are all accepted "
                    "are invited to the **Scale** stage.", focus_area="inclusive_innovation",
        sdg_targets=["6.1", "11.1"], prize_pool_cents=10_000_000, max_award_cents=4_000_000,
        opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=30), eligible_org_types=[],
        eligible_countries=[], criteria=RUBRIC)
    pilot.stage_name = "Pilot"
    challenge_services.submit_challenge(challenge=pilot, actor=official)
    challenge_services.approve_challenge(challenge=pilot, actor=manager)
    pilot.opens_at, pilot.closes_at = now - timedelta(days=300), now - timedelta(days=240)  # history, as elsewhere
    db.session.flush()
    grants = [_pilot_grant(pilot, key, org, user, manager, all_accepted=index == 0)
              for index, (key, org, user) in enumerate(applicants)]
    challenge_services.finish_challenge(challenge=pilot, actor=manager)
    scale = challenge_stages.add_next_stage(
        actor=official, challenge=pilot, stage_name="Scale", prize_pool_cents=30_000_000, max_award_cents=15_000_000,
        opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=90))
    challenge_services.submit_challenge(challenge=scale, actor=official)
    challenge_services.approve_challenge(challenge=scale, actor=manager)
    scale.opens_at = now - timedelta(days=5)  # open now: the invited grantee may apply, the others are told why
    db.session.flush()
    stages.invite_to_next_stage(actor=manager, grant=grants[0], next_stage=scale, reason=ADVANCE_REASON)
    state["stages"] = {"pilot": pilot, "scale": scale}


def _pilot_grant(pilot: Challenge, key: str, org: Any, user: User, manager: User, *, all_accepted: bool) -> Grant:
    """A submitted pilot proposal, awarded in two tranches, accepted by the grantee, its first milestone (or
    both) reported and accepted."""
    proposal = _build(pilot, key, org, user, ProposalStatus.SUBMITTED)
    db.session.flush()
    amount = min(proposal.requested_cents, pilot.max_award_cents)
    today = utcnow().date()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=amount, override_reason=OVERRIDE_REASON,
                                  tranches=[{"title": "Kiosks installed", "amount_cents": amount // 2,
                                             "due_date": today + timedelta(days=30)},
                                            {"title": "Six months of service", "amount_cents": amount - amount // 2,
                                             "due_date": today + timedelta(days=60)}])
    awards.accept_grant(grant=grant, actor=user)
    for tranche in grant.tranches[: 2 if all_accepted else 1]:
        planned = scale_budget(proposal.budget, proposal.requested_cents, tranche.amount_cents)  # spent as planned
        report = milestones.submit_milestone_report(tranche=tranche, actor=user,
                                                    spending={budget_key(c): a for c, a in planned.items()},
                                                    text=f"{tranche.title}: done; figures in the public summary.")
        milestones.accept_milestone_report(report=report, actor=manager)
    return grant
