"""Lifecycle, deadline and eligibility rules of the proposal services, with a frozen clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind, OrgType
from facility.audit.models import AuditEvent
from facility.challenges.models import ChallengeStatus
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.proposals import queries, services
from facility.proposals.models import Proposal, ProposalSnapshot, ProposalStatus
from tests.proposals.conftest import AFTER_CLOSE, BEFORE_OPEN, CLOSES, MAX_AWARD, NOW, complete_data, service_data


def test_draft_may_be_partial_and_is_audited(challenge, innovator):
    proposal = services.create_proposal(actor=innovator, challenge=challenge, data={"title": "Just a title"})
    db.session.commit()
    assert proposal.status == ProposalStatus.DRAFT
    assert proposal.organization_id == innovator.organization_id
    assert proposal.milestones == [] and proposal.requested_cents == 0
    actions = db.session.execute(sa.select(AuditEvent.action)).scalars().all()
    assert "proposal.created" in actions


def test_draft_needs_a_title(challenge, innovator):
    with pytest.raises(ValidationFailed) as info:
        services.create_proposal(actor=innovator, challenge=challenge, data={"title": "   "})
    assert "title" in info.value.errors


def test_only_innovators_of_innovator_orgs_propose(challenge, make_user, make_org, official, fund_manager):
    donor_org = make_org(name="Fund", kind=OrgKind.DONOR)
    innovator_in_donor_org = make_user("innovator", organization=donor_org)
    lone_innovator = make_user("innovator")
    for actor in (official, fund_manager, innovator_in_donor_org, lone_innovator):
        with pytest.raises(PermissionDenied):
            services.create_proposal(actor=actor, challenge=challenge, data={"title": "X"})
    assert db.session.query(Proposal).count() == 0


@pytest.mark.parametrize("when", [BEFORE_OPEN, AFTER_CLOSE, CLOSES])
def test_drafting_only_while_open(clock, challenge, innovator, when):
    clock.move_to(when)
    with pytest.raises(Conflict):
        services.create_proposal(actor=innovator, challenge=challenge, data={"title": "X"})


def test_unpublished_challenge_is_not_found(make_challenge, innovator):
    draft = make_challenge(status=ChallengeStatus.DRAFT)
    with pytest.raises(NotFound):
        services.create_proposal(actor=innovator, challenge=draft, data={"title": "X"})


def test_one_live_proposal_per_org_and_challenge(challenge, innovator, make_user, make_proposal):
    colleague = make_user("innovator", organization=innovator.organization)
    first = make_proposal(challenge)
    with pytest.raises(Conflict):
        services.create_proposal(actor=colleague, challenge=challenge, data={"title": "Second"})
    db.session.rollback()
    services.withdraw_proposal(actor=innovator, proposal=first)
    again = services.create_proposal(actor=colleague, challenge=challenge, data={"title": "Second"})
    db.session.commit()
    assert again.id != first.id


def test_submit_happy_path_writes_snapshot_mail_and_audit(challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    snapshot = services.submit_proposal(actor=innovator, proposal=proposal)
    db.session.commit()
    assert proposal.status == ProposalStatus.SUBMITTED
    assert proposal.submitted_at == NOW
    assert snapshot.version == 1
    assert snapshot.data["title"] == "Solar water kiosks"
    assert [m["amount_cents"] for m in snapshot.data["milestones"]] == [10_000_00, 20_000_00]
    assert snapshot.data["milestones"][0]["due_date"] == "2027-06-30"
    mail = db.session.execute(sa.select(OutboundEmail)).scalar_one()
    assert mail.to_address == innovator.email and "Solar water kiosks" in mail.subject
    assert "proposal.submitted" in db.session.execute(sa.select(AuditEvent.action)).scalars().all()


def test_locked_after_submission(challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    with pytest.raises(Conflict):
        services.update_proposal(actor=innovator, proposal=proposal, data={"title": "Changed"})
    with pytest.raises(Conflict):
        services.submit_proposal(actor=innovator, proposal=proposal)


def test_submit_after_deadline_is_a_conflict(clock, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    clock.move_to(CLOSES)  # closes_at itself is already too late
    with pytest.raises(Conflict):
        services.submit_proposal(actor=innovator, proposal=proposal)
    db.session.rollback()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT


def test_submit_one_second_before_deadline(clock, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    clock.move_to(CLOSES - timedelta(seconds=1))
    services.submit_proposal(actor=innovator, proposal=proposal)
    assert proposal.status == ProposalStatus.SUBMITTED


def test_submit_before_opening_is_a_conflict(clock, make_challenge, innovator):
    later = make_challenge(opens_at=NOW + timedelta(days=1), closes_at=NOW + timedelta(days=30))
    proposal = Proposal(challenge=later, organization_id=innovator.organization_id, title="Early")
    db.session.add(proposal)
    db.session.commit()
    with pytest.raises(Conflict):
        services.submit_proposal(actor=innovator, proposal=proposal)


def test_only_owner_submits_and_withdraws(challenge, make_proposal, other_innovator, fund_manager):
    proposal = make_proposal(challenge)
    for actor in (other_innovator, fund_manager):
        with pytest.raises(PermissionDenied):
            services.submit_proposal(actor=actor, proposal=proposal)
        with pytest.raises(PermissionDenied):
            services.withdraw_proposal(actor=actor, proposal=proposal)
        with pytest.raises(PermissionDenied):
            services.update_proposal(actor=actor, proposal=proposal, data={"title": "Mine"})


def test_withdraw_submitted_before_deadline(challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    services.withdraw_proposal(actor=innovator, proposal=proposal)
    db.session.commit()
    assert proposal.status == ProposalStatus.WITHDRAWN and proposal.withdrawn_at == NOW
    with pytest.raises(Conflict):
        services.withdraw_proposal(actor=innovator, proposal=proposal)


def test_withdraw_after_deadline_refused(clock, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    clock.move_to(AFTER_CLOSE)
    with pytest.raises(Conflict):
        services.withdraw_proposal(actor=innovator, proposal=proposal)


# --- eligibility and completeness -----------------------------------------------------------

def _submit_errors(proposal, actor) -> dict:
    with pytest.raises(ValidationFailed) as info:
        services.submit_proposal(actor=actor, proposal=proposal)
    db.session.rollback()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT
    assert db.session.query(ProposalSnapshot).count() == 0
    return info.value.errors


def test_org_type_must_be_eligible(make_challenge, innovator, make_proposal):
    challenge = make_challenge(eligible_org_types=[OrgType.NGO.value, OrgType.UNIVERSITY.value])
    errors = _submit_errors(make_proposal(challenge), innovator)
    assert list(errors) == ["organization.org_type"]


def test_country_must_be_eligible(make_challenge, innovator, make_proposal):
    challenge = make_challenge(eligible_countries=["UGA", "TZA"])
    errors = _submit_errors(make_proposal(challenge), innovator)
    assert list(errors) == ["organization.country"]


def test_eligible_lists_admit(make_challenge, innovator, make_proposal):
    challenge = make_challenge(eligible_org_types=["startup"], eligible_countries=["KEN"])
    proposal = make_proposal(challenge, submit=True)
    assert proposal.status == ProposalStatus.SUBMITTED


def test_requested_at_most_max_award(challenge, innovator, make_proposal):
    over = MAX_AWARD + 1
    milestones = [{"title": "All", "due_date": "2027-06-30", "amount_cents": over, "deliverable": "All"}]
    errors = _submit_errors(make_proposal(challenge, requested_cents=over, milestones=milestones), innovator)
    assert list(errors) == ["requested_cents"]


def test_requested_exactly_max_award_is_fine(challenge, make_proposal):
    milestones = [{"title": "All", "due_date": "2027-06-30", "amount_cents": MAX_AWARD, "deliverable": "All"}]
    proposal = make_proposal(challenge, requested_cents=MAX_AWARD, milestones=milestones, submit=True)
    assert proposal.status == ProposalStatus.SUBMITTED


def test_milestones_must_sum_exactly(challenge, innovator, make_proposal):
    errors = _submit_errors(make_proposal(challenge, requested_cents=30_000_01), innovator)
    assert list(errors) == ["milestones"]


def test_milestones_required(challenge, innovator, make_proposal):
    errors = _submit_errors(make_proposal(challenge, milestones=[]), innovator)
    assert list(errors) == ["milestones"]


def test_milestone_amount_positive_and_due_after_today(challenge, innovator, make_proposal):
    milestones = [
        {"title": "Zero", "due_date": "2027-06-30", "amount_cents": 0, "deliverable": "x"},
        {"title": "Today", "due_date": NOW.date().isoformat(), "amount_cents": 30_000_00, "deliverable": "y"},
    ]
    errors = _submit_errors(make_proposal(challenge, milestones=milestones), innovator)
    assert set(errors) == {"milestones.0.amount_cents", "milestones.1.due_date"}


@pytest.mark.parametrize("field", ["title", "summary", "approach", "privacy_impact"])
def test_required_text_fields(challenge, innovator, make_proposal, field):
    proposal = make_proposal(challenge)
    setattr(proposal, field, "")
    db.session.commit()
    assert list(_submit_errors(proposal, innovator)) == [field]


def test_beneficiary_group_required(challenge, innovator, make_proposal):
    errors = _submit_errors(make_proposal(challenge, beneficiary_groups=[]), innovator)
    assert list(errors) == ["beneficiary_groups"]


def test_every_problem_reported_at_once(make_challenge, innovator):
    challenge = make_challenge(eligible_org_types=["ngo"], eligible_countries=["UGA"])
    proposal = services.create_proposal(actor=innovator, challenge=challenge, data={
        "title": "Half done", "requested_cents": MAX_AWARD + 5,
        "milestones": [{"title": "", "due_date": None, "amount_cents": 0, "deliverable": ""}],
    })
    db.session.commit()
    errors = _submit_errors(proposal, innovator)
    assert set(errors) >= {
        "organization.org_type", "organization.country", "requested_cents", "milestones",
        "summary", "approach", "privacy_impact", "beneficiary_groups",
        "milestones.0.title", "milestones.0.amount_cents", "milestones.0.due_date", "milestones.0.deliverable",
    }


def test_bad_field_values_refused_on_save(challenge, innovator):
    with pytest.raises(ValidationFailed) as info:
        services.create_proposal(actor=innovator, challenge=challenge, data={
            "title": "X", "beneficiary_groups": ["aliens"], "requested_cents": -5,
            "milestones": [{"title": "a", "amount_cents": -1}],
        })
    assert set(info.value.errors) == {"beneficiary_groups", "requested_cents", "milestones.0.amount_cents"}


def test_snapshot_is_independent_of_live_rows(challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    snapshot = proposal.latest_snapshot
    expected = services.snapshot_data(proposal)
    # Nothing may change a submitted proposal; even a direct change to the rows leaves the snapshot alone.
    proposal.title = "Tampered"
    proposal.milestones[0].amount_cents = 1
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(ProposalSnapshot, snapshot.id)
    assert stored.data == expected
    assert stored.data["title"] == "Solar water kiosks"
    assert stored.data["milestones"][0]["amount_cents"] == 10_000_00


def test_snapshot_equals_what_was_submitted(challenge, innovator):
    data = complete_data()
    proposal = services.create_proposal(actor=innovator, challenge=challenge, data=service_data(data))
    services.submit_proposal(actor=innovator, proposal=proposal)
    db.session.commit()
    snap = proposal.latest_snapshot.data
    for key in ("title", "summary", "approach", "team", "requested_cents", "beneficiary_groups", "privacy_impact"):
        assert snap[key] == data[key]
    assert [{k: m[k] for k in ("title", "due_date", "amount_cents", "deliverable")} for m in snap["milestones"]] \
        == data["milestones"]
    assert snap["organization"] == {"id": innovator.organization_id, "name": "SolarKiosk", "country": "KEN",
                                    "org_type": "startup"}


def test_applicant_emails(challenge, innovator, other_innovator, make_proposal, make_user):
    make_proposal(challenge)
    withdrawn = make_proposal(challenge, user=other_innovator)
    services.withdraw_proposal(actor=other_innovator, proposal=withdrawn)
    db.session.commit()
    assert queries.applicant_emails(challenge) == {innovator.email}
