"""A small competition built from model objects (the city and challenge by tests/factories,
via="models"): a closed challenge with a rubric, applicants with distinctive names (so blindness
can be checked on raw bytes), submitted proposals with snapshots, a fund manager and a panel of
reviewers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.challenges.models import Challenge, Criterion
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.models import Attachment, Proposal, ProposalSnapshot, ProposalStatus
from facility.review import assignments, decisions, panels, queries, reviews
from facility.review.models import Assignment, ReviewRound, RoundKind
from tests import factories


@dataclass
class World:
    challenge: Challenge
    criteria: list[Criterion]
    manager: User
    official: User
    reviewers: list[User]
    proposals: list[Proposal]
    orgs: list[Organization]
    applicants: list[User]
    secrets: list[str] = field(default_factory=list)  # strings a reviewer must never receive

    @property
    def scoring(self) -> ReviewRound:
        return queries.round_of(self.challenge, RoundKind.SCORING)

    @property
    def eligibility(self) -> ReviewRound:
        return queries.round_of(self.challenge, RoundKind.ELIGIBILITY)


def snapshot_data(proposal: Proposal, org: Organization) -> dict:
    """Shaped like proposals.services.snapshot_data (organisation and team included, as stored)."""
    return {
        "proposal_id": proposal.id, "challenge_id": proposal.challenge_id,
        "organization": {"id": org.id, "name": org.name, "country": org.country, "org_type": "startup"},
        "title": proposal.title, "summary": proposal.summary, "approach": proposal.approach, "team": proposal.team,
        "requested_cents": proposal.requested_cents, "beneficiary_groups": ["women"],
        "privacy_impact": proposal.privacy_impact,
        "milestones": [{"position": 1, "title": "Pilot", "due_date": "2027-06-01", "amount_cents": 100_000,
                        "deliverable": "A pilot in two wards"}],
        "attachments": [{"id": 1, "original_filename": f"{org.name} budget.pdf", "content_type": "application/pdf",
                         "size_bytes": 245_760, "sha256": "0" * 64}],
        "submitted_at": utcnow().isoformat(),
    }


def build_world(make_user, make_org, *, n_proposals: int = 3, n_reviewers: int = 3, panel: bool = True,
                weights=(60, 40)) -> World:
    city, _ = factories.cities.make_city(via="models", org_name="Kampala Capital City Authority")
    city_org = city.organization
    now = utcnow()
    challenge = factories.challenges.make_challenge(
        city, via="models", state="published", title="Clean water kiosks", summary="Water for all",
        description="Describe", sdg_targets=[], prize_pool_cents=10_000_000, max_award_cents=1_000_000,
        opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1),
        criteria=[{"name": f"Criterion {i + 1}", "weight": w, "position": i} for i, w in enumerate(weights)])
    criteria = sorted(challenge.criteria, key=lambda c: c.position)
    manager = make_user("fund_manager", email="manager@facility.example", name="Fiona Manager")
    official = make_user("city_official", email="official@kcca.example", name="Olivia Official",
                         organization=city_org)
    orgs, applicants, proposals, secrets = [], [], [], []
    for i in range(n_proposals):
        org_name = f"Zebracorp{i} Water Labs"
        org = Organization(name=org_name, kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN")
        db.session.add(org)
        db.session.commit()
        applicant = make_user("innovator", email=f"founder{i}@zebracorp{i}.example", name=f"Quentin Quokka{i}",
                              organization=org)
        proposal = Proposal(challenge=challenge, organization=org, created_by=applicant,
                            title=f"Solar kiosk plan {i}", summary=f"Kiosks by {org_name} for the city",
                            approach=f"We, {org_name}, will build kiosks. Contact founder{i}@zebracorp{i}.example.",
                            team=f"Team lead Yolanda Yak{i}", requested_cents=100_000,
                            privacy_impact="No personal data kept.", status=ProposalStatus.SUBMITTED,
                            submitted_at=now - timedelta(days=2), beneficiary_groups=["women"])
        db.session.add(proposal)
        db.session.flush()
        db.session.add(Attachment(proposal=proposal, original_filename=f"{org_name} budget.pdf",
                                  content_type="application/pdf", size_bytes=245_760, sha256="0" * 64,
                                  storage_key=f"key-{proposal.id}"))
        db.session.add(ProposalSnapshot(proposal=proposal, version=1, data=snapshot_data(proposal, org)))
        db.session.commit()
        orgs.append(org)
        applicants.append(applicant)
        proposals.append(proposal)
        secrets += [org_name, f"Quentin Quokka{i}", f"founder{i}@zebracorp{i}.example", f"Yolanda Yak{i}",
                    f"zebracorp{i}"]
    reviewers = [make_user("reviewer", email=f"reviewer{i}@panel{i}.example", name=f"Rita Reviewer{i}")
                 for i in range(n_reviewers)]
    if panel:
        for reviewer in reviewers:
            panels.add_panel_member(actor=manager, challenge=challenge, user=reviewer)
        db.session.commit()
    return World(challenge=challenge, criteria=criteria, manager=manager, official=official, reviewers=reviewers,
                 proposals=proposals, orgs=orgs, applicants=applicants, secrets=secrets)


@pytest.fixture
def world(app, make_user, make_org) -> World:
    return build_world(make_user, make_org)


@pytest.fixture
def make_world(app, make_user, make_org):
    def _make(**kwargs) -> World:
        return build_world(make_user, make_org, **kwargs)

    return _make


def assert_blind(world, response) -> None:
    raw = response.get_data().lower()
    for secret in world.secrets:
        assert secret.lower().encode() not in raw, f"{secret!r} leaked to a reviewer"


def assign(world: World, reviewer: User, proposal: Proposal, round_: ReviewRound | None = None):
    a = assignments.add_assignment(actor=world.manager, round_=round_ or world.scoring, proposal=proposal,
                                reviewer=reviewer)
    db.session.commit()
    return a


def submit(world: World, assignment, scores: list[int], comment: str = "Solid work.", submit: bool = True):
    review = reviews.save_review(actor=assignment.reviewer, assignment=assignment,
                                  scores={c.id: s for c, s in zip(world.criteria, scores, strict=True)},
                                  comment=comment, submit=submit)
    db.session.commit()
    return review


def review_the_rest(world: World, reviewer: User | None = None) -> None:
    """Each proposal of the world with no live assignment gets one (the last reviewer's) and its submitted
    review: the release gate counts every submitted proposal, reviewed or not."""
    reviewer = reviewer or world.reviewers[-1]
    for proposal in world.proposals:
        live = db.session.execute(sa.select(Assignment.id).where(
            Assignment.proposal_id == proposal.id, Assignment.waived_at.is_(None))).first()
        if live is None:
            submit(world, assign(world, reviewer, proposal), [5] * len(world.criteria))


def release_one(world: World, kind: str = "decline", releaser: User | None = None) -> Proposal:
    """Reviews in for every proposal; the first proposal's decision (`kind`) prepared by world.manager and
    released by `releaser` (default the same manager). Returns that proposal."""
    proposal = world.proposals[0]
    submit(world, assign(world, world.reviewers[0], proposal), [4] * len(world.criteria))
    review_the_rest(world)
    decisions.prepare_decision(actor=world.manager, proposal=proposal, kind=kind)
    decisions.release_decisions(actor=releaser or world.manager, challenge=world.challenge)
    db.session.commit()
    return proposal
