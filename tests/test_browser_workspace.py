"""The workspace in a real browser, by clicks only (page.goto only for the first page and signing in):
a fund manager goes from the dashboard to an award and to a payment (requested by one fund manager,
approved by a second, confirmed on the manual rail with a bank reference); an innovator signs up,
proposes, reads her decision and accepts her grant."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from facility.accounts.models import OrgKind, OrgType, User
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import Grant, GrantStatus
from facility.proposals.models import Proposal, ProposalStatus
from facility.review import facts, panels
from facility.review import queries as review_queries
from facility.review.assignments import add_assignment
from facility.review.decisions import prepare_decision, release_decisions
from facility.review.models import Assignment, DecisionKind, RoundKind
from facility.review.reviews import save_review
from tests.browser import browser_page, fill_proposal_form, live_server, require_chromium, sign_in_page
from tests.factories import NOW, PASSWORD
from tests.factories.accounts import make_org, make_user
from tests.factories.grants import make_grant
from tests.factories.proposals import make_proposal
from tests.factories.world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.serial]

GRACE_PASSWORD = "kettle harbour violet 42"


def _sign_in(page, base, email, password=PASSWORD):
    sign_in_page(page, base, email, password)


def _sign_out(page):
    page.click("button:has-text('Sign out')")


def _only_sqlite(backend):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()


def _review_every_proposal(world):
    """The release gate waits for every submitted proposal's review: an outside reviewer gives each its review."""
    reviewer = db.session.execute(sa.select(User).where(User.email == "panel@reviewers.test")).scalar_one_or_none() \
        or make_user("reviewer", email="panel@reviewers.test")  # not of the applicants' domain: not conflicted
    if facts.panel_membership(world.challenge, reviewer) is None:
        panels.add_panel_member(actor=world.fund_manager, challenge=world.challenge, user=reviewer)
    scoring = review_queries.round_of(world.challenge, RoundKind.SCORING)
    for proposal in db.session.execute(sa.select(Proposal).where(
            Proposal.challenge_id == world.challenge.id, Proposal.status == ProposalStatus.SUBMITTED,
            ~sa.exists().where(Assignment.proposal_id == Proposal.id))).scalars().all():
        assignment = add_assignment(actor=world.fund_manager, round_=scoring, proposal=proposal, reviewer=reviewer)
        save_review(actor=reviewer, assignment=assignment, scores={c.id: 6 for c in world.challenge.criteria},
                    comment="Sound plan.", submit=True)


def _release_recommendations(world, *proposals):
    _review_every_proposal(world)
    for proposal in proposals:
        prepare_decision(actor=world.fund_manager, proposal=proposal, kind=DecisionKind.AWARD_RECOMMENDATION)
    release_decisions(actor=world.fund_manager, challenge=world.challenge)


def test_fund_manager_awards_and_pays_by_clicks(app, backend, run_jobs):
    _only_sqlite(backend)
    with time_machine.travel(NOW, tick=True) as clock:
        world = build_world()
        org = make_org(name="WaterWatch", kind=OrgKind.INNOVATOR, org_type=OrgType.COMMUNITY_ORGANIZATION,
                       country="BGD")
        grantee = make_user("innovator", organization=org, email="lead.water@example.org")
        paid_one = make_proposal(world.challenge, grantee, submit=True, title="Community water watch")
        clock.move_to(world.challenge.closes_at + timedelta(hours=1))
        _release_recommendations(world, world.proposal, paid_one)
        # Awarded earlier, accepted, paid by bank; its first milestone report was accepted: payable now.
        make_grant(paid_one, world.fund_manager, grantee, rail="manual", accepted_reports=[1])
        # The confirmer of a manual payment is neither its requester nor an approver (policy.can_confirm).
        finance = make_user("fund_manager", email="finance@example.org").email
        # Read what the walk needs, then end the transaction: on SQLite an open one blocks the server.
        first, second, title = world.fund_manager.email, world.second_fund_manager.email, world.proposal.title
        ids = world.proposal.id, world.fund_manager.id, world.second_fund_manager.id
        db.session.commit()

        with live_server(app) as base, browser_page() as page:
            _sign_in(page, base, first)
            # An award recommended by the panel, from the dashboard to the award form.
            page.click("a:has-text('Awards to make')")
            assert title in page.inner_text("h1")
            page.click("input[value='Award the grant'], button:has-text('Award the grant')")
            assert "Grant awarded" in page.inner_text("main")

            # A payment: requested by this fund manager...
            page.click("nav a:has-text('Dashboard')")
            page.click("a:has-text('Payments to request')")
            page.click("button:has-text('Request payment of tranche 1')")
            _sign_out(page)
            # ...approved by the second...
            _sign_in(page, base, second)
            page.click("a:has-text('Disbursements to approve')")
            page.click("a:has-text('Approve payment of')")  # to the confirmation page: nothing approved yet
            assert "This cannot be undone." in page.inner_text("main")
            page.click("button:has-text('Yes, approve the payment of')")
            assert "Approved." in page.inner_text("main")
            run_jobs()  # the payment job prepares the manual rail's instruction
            db.session.commit()
            _sign_out(page)
            # ...and confirmed by a third.
            _sign_in(page, base, finance)
            page.click("a:has-text('Manual payments to confirm')")
            page.fill("#confirm-bank_reference", "FT27031234")
            page.click("button:has-text('Confirm payment')")
            assert "Paid" in page.inner_text("main")
    db.session.expire_all()
    proposal_id, first_id, second_id = ids
    awarded = db.session.query(Grant).filter_by(proposal_id=proposal_id).one()
    assert awarded.status == GrantStatus.OFFERED
    payment = db.session.query(Disbursement).one()
    assert payment.status == DisbursementStatus.PAID and payment.bank_reference == "FT27031234"
    assert payment.requested_by_id == first_id
    assert [a.approver_id for a in payment.approvals] == [second_id]


def test_innovator_from_sign_up_to_her_decision_and_grant(app, backend):
    _only_sqlite(backend)
    with time_machine.travel(NOW, tick=True) as clock:
        world = build_world()
        challenge_title, closes_at = world.challenge.title, world.challenge.closes_at
        db.session.commit()
        with live_server(app) as base, browser_page() as page:
            page.goto(base + "/")
            page.click("text=Sign up")
            page.select_option("#role", "innovator")
            page.fill("#name", "Grace Mwangi")
            page.fill("#email", "grace@example.org")
            page.fill("#password", GRACE_PASSWORD)
            page.fill("#org_name", "Mwangi Water Labs")
            page.select_option("#org_country", "KEN")
            page.select_option("#org_type", "startup")
            page.click("#submit")
            page.wait_for_url(base + "/dashboard")
            # The open challenge is on her dashboard; she proposes.
            page.click(f"a:has-text('Start a proposal to {challenge_title}')")
            fill_proposal_form(page, fields={
                "title": "Rain tanks with level sensors", "summary": "Tanks and sensors for 30 schools.",
                "approach": "Install, train caretakers, publish the levels.", "team": "Two engineers and a teacher.",
                "requested": "20000", "privacy_impact": "No personal data; tank levels only."},
                beneficiary="children", budget={"personnel": "8000", "equipment": "12000"}, milestones=[
                    ("Tanks at 15 schools", NOW + timedelta(days=90), "8000", "Photos and caretaker records."),
                    ("Tanks at 30 schools", NOW + timedelta(days=180), "12000", "The sensor data, published.")])
            assert "submitted" in page.inner_text("main").lower()
            page.click("nav a:has-text('Dashboard')")
            assert "Submitted; decisions are released after the review." in page.inner_text("main")

            # The panel recommends her proposal; a fund manager awards it (their part is the other test).
            clock.move_to(closes_at + timedelta(hours=1))
            proposal = db.session.query(Proposal).filter_by(title="Rain tanks with level sensors").one()
            _release_recommendations(world, proposal)
            make_grant(proposal, world.fund_manager, accept=False)
            db.session.commit()

            _sign_in(page, base, "grace@example.org", GRACE_PASSWORD)
            main = page.inner_text("main")
            assert "Submitted; decisions are released" not in main and "Awarded" in main
            page.click("a:has-text('Read the decision and feedback')")
            assert "recommended for an award" in page.inner_text("main")
            page.click("nav a:has-text('Dashboard')")
            page.click("a:has-text('Grant agreements to accept')")
            page.click("button:has-text('I accept this agreement')")
            assert "Active" in page.inner_text("main")
    db.session.expire_all()
    grace = db.session.query(User).filter_by(email="grace@example.org").one()
    grant = db.session.query(Grant).filter_by(organization_id=grace.organization_id).one()
    assert grant.status == GrantStatus.ACTIVE and grant.accepted_by_id == grace.id
