"""grants.policy: for every action, the right person is allowed; the wrong role, the wrong organisation
and an anonymous caller are refused; and the right person is refused (409) when the object's state
does not allow the action yet or any more."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin

from facility.accounts.models import OrgKind
from facility.challenges.models import ChallengeStatus
from facility.core.errors import Conflict, NotFound, PermissionDenied
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import amendments, awards, contributions, indicators, milestones, policy
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import ContributionStatus, EvidenceFile, GrantStatus, TrancheStatus
from facility.ledger import services as ledger
from facility.proposals.indicator_models import Direction
from facility.proposals.models import ProposalStatus
from tests.factories.grants import NO_SPENDING


@pytest.fixture
def w(app, make_challenge, make_proposal, make_user, make_org, fund):
    """One of everything grants decides about, and the people who ask."""
    donor_org = make_org(name="Foundation", kind=OrgKind.DONOR, country="NOR")
    other_donor_org = make_org(name="Other foundation", kind=OrgKind.DONOR, country="SWE")
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    grantee_org = proposal.organization
    to_award = make_proposal(challenge)
    fund(challenge=challenge, pool=10_000_000)
    finished = make_challenge(status=ChallengeStatus.FINISHED)
    people = SimpleNamespace(
        manager=make_user("fund_manager"),
        manager2=make_user("fund_manager"),
        admin=make_user("admin"),
        donor=make_user("donor", organization=donor_org),
        donor_colleague=make_user("donor", organization=donor_org),
        other_donor=make_user("donor", organization=other_donor_org),
        grantee=make_user("innovator", organization=grantee_org),
        grantee_donor=make_user("donor", organization=grantee_org),  # the grantee's organisation, not an innovator
        other_innovator=make_user("innovator", organization=make_org(name="Another startup")),
        official=make_user("city_official"),
        anonymous=AnonymousUserMixin(),
    )
    contribution = contributions.pledge_contribution(actor=people.donor, amount_cents=10_000, method="wire")
    offered = awards.award_proposal(proposal=proposal, actor=people.manager, amount_cents=3_000_000)
    db.session.commit()
    active = offered  # accepted below; `offered_again` stays offered for can_accept
    awards.accept_grant(grant=active, actor=people.grantee)
    report = milestones.submit_milestone_report(tranche=active.tranches[0], actor=people.grantee, text="Done",
                                                spending=NO_SPENDING)
    evidence = EvidenceFile(report=report, original_filename="a.pdf", content_type="application/pdf",
                            size_bytes=1, sha256="0" * 64, storage_key="k-policy")
    db.session.add(evidence)
    # A second grant of the same grantee, still offered.
    other_proposal = make_proposal(make_challenge(), org=grantee_org)
    fund(challenge=other_proposal.challenge, pool=5_000_000)
    offered_again = awards.award_proposal(proposal=other_proposal, actor=people.manager, amount_cents=3_000_000)
    # A received contribution (it has a receipt) and an accepted milestone report (it may get a public summary).
    received = contributions.pledge_contribution(actor=people.donor, amount_cents=20_000, method="wire")
    contributions.confirm_wire_contribution(contribution=received, actor=people.manager, received_cents=20_000,
                                            received_on=utcnow().date(), bank_reference="REF-POLICY")
    third_proposal = make_proposal(make_challenge(), org=grantee_org)
    fund(challenge=third_proposal.challenge, pool=5_000_000)
    third = awards.award_proposal(proposal=third_proposal, actor=people.manager, amount_cents=3_000_000)
    awards.accept_grant(grant=third, actor=people.grantee)
    accepted_report = milestones.submit_milestone_report(tranche=third.tranches[0], actor=people.grantee, text="Ok",
                                                         spending=NO_SPENDING)
    # An award above the approval threshold: it awaits the approval of a fund manager other than its author.
    big_challenge = make_challenge(max_award_cents=10_000_000)
    fund(challenge=big_challenge, pool=10_000_000)
    pending = awards.award_proposal(proposal=make_proposal(big_challenge, org=grantee_org, amounts=(6_000_000,)),
                                    actor=people.manager, amount_cents=6_000_000)
    assert pending.status == GrantStatus.PENDING_APPROVAL
    milestones.accept_milestone_report(report=accepted_report, actor=people.manager)
    # Amendments: one approved at once (a new title), one awaiting a second fund manager (an increase).
    approved_amendment = amendments.propose_amendment(
        grant=active, actor=people.manager, reason="Clearer title",
        tranches=[{"id": t.id, "title": f"{t.title} (renamed)", "amount_cents": t.amount_cents, "due_date": t.due_date}
                  for t in active.tranches])
    pending_amendment = amendments.propose_amendment(
        grant=offered_again, actor=people.manager, reason="More",
        tranches=[{"id": t.id, "title": t.title, "amount_cents": t.amount_cents + 1_000, "due_date": t.due_date}
                  for t in offered_again.tranches])
    db.session.commit()
    # Something paid (booked as a payment books it): a refund may be recorded.
    third.tranches[1].status = TrancheStatus.PAID
    ledger.transfer(key="test-paid-third", source=ledger.commitment_code(third.id), target=ledger.disbursed_account(),
                    amount_cents=third.tranches[1].amount_cents, actor=None, kind="disbursement")
    # Staged prizes: an invitation-only stage after `challenge`, open for proposals.
    stage = make_challenge(closed=False)
    stage.previous_stage_id, stage.invitation_only = challenge.id, True
    db.session.commit()
    # Indicators of the active grant's pending tranche: one without a value, one whose value awaits verification.
    terms = dict(unit="%", baseline_scaled=0, target_scaled=10_000, direction=Direction.INCREASE, method="")
    indicator = TrancheIndicator(code="EC: I: WS: 1C", **terms)
    measured = TrancheIndicator(code="11.6.1", **terms)
    active.tranches[1].indicators.extend([indicator, measured])
    db.session.flush()
    reading = indicators.report_reading(indicator=measured, actor=people.grantee, value="5")
    db.session.commit()
    objects = SimpleNamespace(stage=stage, indicator=indicator, measured=measured, reading=reading,
                              contribution=contribution,
                              to_award=to_award, finished=finished, active=active,
                              offered=offered_again, pending_tranche=active.tranches[1], report=report,
                              evidence=evidence, received=received, accepted_report=accepted_report,
                              third=third, approved_amendment=approved_amendment, pending_amendment=pending_amendment,
                              pending=pending, paid=third)
    return SimpleNamespace(people=people, objects=objects)


# (policy function, object, who is allowed, the wrong role, the wrong organisation)
CASES = {
    "can_pledge": (lambda o: None, "donor", "grantee", "official"),
    "can_view_contribution": (lambda o: o.contribution, "donor_colleague", "grantee", "other_donor"),
    "can_confirm_contribution": (lambda o: o.contribution, "manager", "donor", "other_donor"),
    "can_see_money_queues": (lambda o: None, "manager", "donor", "other_innovator"),
    "can_award": (lambda o: o.to_award, "manager", "official", "other_innovator"),
    "can_award_overriding": (lambda o: o.to_award, "manager", "official", "other_innovator"),
    "can_approve_award": (lambda o: o.pending, "manager2", "grantee", "other_innovator"),
    "can_see_award_approvers": (lambda o: o.pending, "admin", "grantee", "other_innovator"),
    "can_release_pool": (lambda o: o.finished, "manager", "official", "other_innovator"),
    "can_view_grant": (lambda o: o.active, "grantee_donor", "official", "other_innovator"),
    "can_accept": (lambda o: o.offered, "grantee", "grantee_donor", "other_innovator"),
    "can_set_payout": (lambda o: o.active, "grantee", "grantee_donor", "other_innovator"),
    "can_view_tranche": (lambda o: o.pending_tranche, "grantee", "official", "other_innovator"),
    "can_report": (lambda o: o.pending_tranche, "grantee", "grantee_donor", "other_innovator"),
    "can_view_report": (lambda o: o.report, "admin", "official", "other_innovator"),
    "can_view_evidence": (lambda o: o.evidence, "manager", "donor", "other_innovator"),
    "can_review": (lambda o: o.report, "manager", "grantee", "other_innovator"),
    "can_download_receipt": (lambda o: o.received, "donor_colleague", "grantee", "other_donor"),
    "can_write_public_summary": (lambda o: o.accepted_report, "grantee", "grantee_donor", "other_innovator"),
    "can_propose_amendment": (lambda o: o.third, "manager", "grantee", "other_innovator"),
    "can_view_amendment": (lambda o: o.approved_amendment, "grantee", "official", "other_innovator"),
    "can_approve_amendment": (lambda o: o.pending_amendment, "manager2", "grantee", "other_innovator"),
    "can_accept_amendment": (lambda o: o.approved_amendment, "grantee", "grantee_donor", "other_innovator"),
    "can_reject_amendment": (lambda o: o.approved_amendment, "grantee", "grantee_donor", "other_innovator"),
    "can_cancel_grant": (lambda o: o.active, "manager", "grantee", "other_innovator"),
    "can_record_refund": (lambda o: o.paid, "manager", "grantee", "other_innovator"),
    "can_see_refund_references": (lambda o: o.paid, "admin", "grantee", "other_innovator"),
    # Co-funding a published challenge: donors and its city's officials (an official of no/another city is refused).
    "can_cofund": (lambda o: o.to_award.challenge, "donor", "grantee", "official"),
    "can_view_attribution": (lambda o: None, "donor", "grantee", "other_innovator"),
    # Inviting the previous stage's grantees: fund managers and the stage city's officials (not another city's).
    "can_invite_to_stage": (lambda o: o.stage, "manager", "grantee", "official"),
    # Indicators (grants.indicator_policy): the grantee reports, a fund manager verifies and sets conditions.
    "can_report_reading": (lambda o: o.indicator, "grantee", "grantee_donor", "other_innovator"),
    "can_review_reading": (lambda o: o.measured, "manager", "grantee", "other_innovator"),
    "can_verify_reading": (lambda o: o.reading, "manager", "grantee", "other_innovator"),
    "can_set_condition": (lambda o: o.indicator, "manager", "grantee", "other_innovator"),
    "can_see_unverified_readings": (lambda o: o.active, "grantee", "donor", "official"),
}


def test_every_policy_function_is_covered():
    actions = {name for name in dir(policy) if name.startswith("can_") and callable(getattr(policy, name))}
    assert actions == set(CASES)


def _ask(w, name, who):
    obj_of, *_ = CASES[name]
    return getattr(policy, name)(getattr(w.people, who), obj_of(w.objects))


def _refused(refusal) -> bool:
    return refusal is not None and refusal.error in (PermissionDenied, NotFound) and bool(refusal.reason)


@pytest.mark.parametrize("name", sorted(CASES))
def test_right_person_allowed_wrong_role_wrong_organisation_and_anonymous_refused(w, name):
    _, allowed, wrong_role, wrong_organisation = CASES[name]
    assert _ask(w, name, allowed) is None, f"{allowed} should be allowed"
    assert _refused(_ask(w, name, wrong_role)), f"{wrong_role} (the wrong role) should be refused"
    assert _refused(_ask(w, name, wrong_organisation)), f"{wrong_organisation} (the wrong organisation) should be refused"
    assert _refused(_ask(w, name, "anonymous")), "an anonymous caller should be refused"


def test_who_may_not_know_a_grant_exists_gets_not_found(w):
    refusal = policy.can_view_grant(w.people.other_innovator, w.objects.active)
    assert refusal.error is NotFound
    assert policy.can_view_contribution(w.people.other_donor, w.objects.contribution).error is NotFound


# --- the right person at the wrong moment: a state refusal (409), explained on the page --------------

def test_state_refusals(w):
    p, o = w.people, w.objects
    assert policy.can_accept(p.grantee, o.active).error is Conflict  # already active
    assert policy.can_report(p.grantee, o.offered.tranches[0]).error is Conflict  # agreement not accepted
    assert policy.can_report(p.grantee, o.active.tranches[0]).error is Conflict  # already reported
    assert policy.can_download_receipt(p.donor, o.contribution).error is Conflict  # not received yet
    assert policy.can_write_public_summary(p.grantee, o.report).error is Conflict  # not accepted yet
    o.contribution.status = ContributionStatus.RECEIVED
    assert policy.can_confirm_contribution(p.manager, o.contribution).error is Conflict
    assert policy.can_record_refund(p.manager, o.active).error is Conflict  # nothing paid yet
    assert policy.can_cancel_grant(p.manager, o.offered) is None
    o.active.status = GrantStatus.COMPLETED
    assert policy.can_set_payout(p.grantee, o.active).error is Conflict
    assert policy.can_cancel_grant(p.manager, o.active).error is Conflict  # completed
    o.offered.status = GrantStatus.CANCELLED
    assert policy.can_cancel_grant(p.manager, o.offered).error is Conflict  # cancelled already
    o.report.tranche.status = TrancheStatus.ACCEPTED
    assert policy.can_review(p.manager, o.report).error is Conflict
    assert policy.can_report_reading(p.grantee, o.measured).error is Conflict  # a value awaits verification
    assert policy.can_review_reading(p.manager, o.indicator).error is Conflict  # no value awaits verification
    o.to_award.status = ProposalStatus.AWARDED
    assert "already" in policy.can_award(p.manager, o.to_award).reason
    o.to_award.status = ProposalStatus.DRAFT
    assert policy.can_award(p.manager, o.to_award).error is Conflict
    open_challenge = o.finished
    open_challenge.status = ChallengeStatus.PUBLISHED
    open_challenge.closes_at = utcnow() + timedelta(days=3)
    assert policy.can_release_pool(p.manager, open_challenge).error is Conflict
    for refusal in (policy.can_accept(p.grantee, o.active), policy.can_release_pool(p.manager, open_challenge)):
        assert refusal.is_state and refusal.reason


def test_a_closed_challenge_with_proposals_awaiting_a_decision_keeps_its_pool(w):
    challenge = w.objects.to_award.challenge
    refusal = policy.can_release_pool(w.people.manager, challenge)
    assert refusal.error is Conflict and "await" in refusal.reason


def test_templates_ask_the_same_policy(w, client, login):
    login(client, w.people.grantee)
    page = client.get(f"/grants/{w.objects.offered.id}").get_data(as_text=True)
    assert "I accept this agreement" in page and "Offered: agreement to accept" in page
    page = client.get(f"/grants/{w.objects.active.id}").get_data(as_text=True)
    assert "I accept this agreement" not in page and "Report milestone 2" in page
    page = client.get(f"/tranches/{w.objects.offered.tranches[0].id}/evidence").get_data(as_text=True)
    assert "Accept the grant agreement before reporting milestones." in page
