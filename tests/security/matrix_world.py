"""The permission matrix's world: the demo facility, its people as caller kinds, and real ids for URL parameters.

The demo data (facility/demo.py) has an object of every kind the url map names (cities, challenges in every
state, proposals, attachments, review rounds and assignments, grants, tranches, reports, evidence files,
disbursements, contributions, audit events), and two organisations of each kind the wrong-organisation
callers need. Each caller kind gets a freshly seeded world of its own, so what an allowed caller changes with
one request never leaks into another kind's answers.
"""
from __future__ import annotations

import io
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from facility.accounts.models import (
    ApprovalLimitRequest,
    Organization,
    PasskeyCredential,
    Role,
    RoleGrantRequest,
    RoleRequestStatus,
    User,
)
from facility.accounts.services import issue_api_token
from facility.audit.models import AuditEvent
from facility.challenges.models import Challenge, ChallengeStatus, Clarification
from facility.cities.models import City
from facility.core.models import utcnow
from facility.demo import DEMO_PASSWORD, seed
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.amendment_models import AmendmentStatus, GrantAmendment
from facility.grants.awards import accept_grant
from facility.grants.milestones import submit_milestone_report
from facility.grants.models import Contribution, ContributionStatus, EvidenceFile, Grant, GrantStatus, MilestoneReport, Tranche
from facility.portfolio.spreadsheets import TABLES
from facility.proposals.models import Attachment, Proposal, ProposalStatus
from facility.proposals.services import add_attachment, attachment_path
from facility.review import facts
from facility.review import queries as review_queries
from facility.review.decisions import prepare_decision, release_decisions
from facility.review.models import (
    Appeal,
    AppealGrounds,
    Assignment,
    Decision,
    DecisionKind,
    ReviewerAffiliation,
    ReviewRound,
    RoundKind,
)
from tests.conftest import csrf_token_from, sign_in
from tests.factories.grants import NO_SPENDING

# Caller kind -> the demo login that plays it. The object owners: SolarKiosk Labs (the innovator) and the
# city of Kampala (the city official); the wrong organisation is WaterWatch (another innovator) and Suva
# (another city). `deactivated` and `unenrolled_fm` are the first fund manager, deactivated after signing
# in, or with no second factor enrolled.
LOGINS = {
    "admin": "admin@demo.facility",
    "fund_manager": "fund.manager@demo.facility",
    "city_official": "official@kampala.demo",
    "innovator": "founder@solarkiosk.demo",
    "reviewer": "reviewer1@demo.facility",
    "donor": "donor@foundation.demo",
    "auditor": "auditor@demo.facility",
    "other_innovator": "lead@waterwatch.demo",
    "other_official": "official@suva.demo",
    "deactivated": "fund.manager@demo.facility",
    "unenrolled_fm": "fund.manager@demo.facility",
}


@dataclass
class Caller:
    kind: str
    client: Any
    csrf: str
    headers: dict[str, str] = field(default_factory=dict)
    user: User | None = None
    # Two spare API tokens of the caller's own, which the revoke routes (page, API) may revoke.
    spare_tokens: tuple[int, int] = (0, 0)


def _user(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _first(query: Any) -> int:
    found = db.session.execute(query.limit(1)).scalar()
    assert found is not None, f"the demo has no object for {query}"
    return int(found)


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# The routes about a proposal's draft and its attachments are called on WaterWatch's draft (SolarKiosk has
# none in the demo), with an attachment added: there `other_innovator` is the owner, `innovator` the outsider.
DRAFT_ENDPOINTS = ("proposals.edit", "proposals.submit", "proposals.upload", "proposals.download",
                   "proposals.delete_attachment", "api_proposals.patch_proposal", "api_proposals.submit_proposal",
                   "api_proposals.upload_attachment", "api_proposals.download_attachment",
                   "api_proposals.delete_attachment", "proposal_indicators.add", "proposal_indicators.remove",
                   "api_indicators.add_milestone_indicator", "api_indicators.remove_milestone_indicator")


def _add_draft_with_attachment() -> None:
    """WaterWatch's lead attaches a PDF to WaterWatch's draft to the Kampala challenge."""
    lead = _user(LOGINS["other_innovator"])
    draft = db.session.scalars(sa.select(Proposal).where(Proposal.organization_id == lead.organization_id,
                                                         Proposal.status == ProposalStatus.DRAFT)).first()
    assert draft is not None, "the demo has no draft of WaterWatch's"
    # Two attachments: the page deletes the first, the API the second.
    add_attachment(actor=lead, proposal=draft, filename="plan.pdf", stream=io.BytesIO(PDF))
    add_attachment(actor=lead, proposal=draft, filename="budget.pdf", stream=io.BytesIO(PDF))
    # The demo has no evidence files: WaterWatch accepts its offered grant and reports its first milestone.
    grant = db.session.scalars(sa.select(Grant).join(Proposal, Proposal.id == Grant.proposal_id).where(
        Proposal.organization_id == lead.organization_id, Grant.status == GrantStatus.OFFERED)).first()
    assert grant is not None, "the demo has no offered grant of WaterWatch's"
    accept_grant(grant=grant, actor=lead)
    submit_milestone_report(tranche=grant.tranches[0], actor=lead, text="Done, see the photo.",
                            spending=NO_SPENDING, files=[("photo.png", PNG)])
    _release_decisions()
    _add_appeal()
    # The demo's fund manager requested every payment; the one awaiting approval is put in the second fund
    # manager's name, so that the first may approve it (nobody approves their own request).
    requested = db.session.scalars(sa.select(Disbursement).where(
        Disbursement.status == DisbursementStatus.REQUESTED).order_by(Disbursement.id)).first()
    assert requested is not None, "the demo has no payment awaiting approval"
    requested.requested_by_id = _user("fund.manager2@demo.facility").id
    db.session.commit()


def _release_decisions() -> None:
    """Released decisions on the first challenge whose reviews are all in (as tests/test_navigation.py), other
    than Kampala's, whose review round stays open for the reviewer's routes."""
    manager = _user(LOGINS["fund_manager"])
    kampala = _first(sa.select(City.id).where(City.name == "Kampala"))
    for challenge in db.session.scalars(sa.select(Challenge).where(Challenge.city_id != kampala)
                                        .order_by(Challenge.id)):
        round_ = review_queries.round_of(challenge, RoundKind.SCORING)
        proposals = [p for p in review_queries.round_proposals(round_) if p.status != ProposalStatus.AWARDED] \
            if round_ else []
        if proposals and not facts.outstanding_assignments(challenge):
            for proposal in proposals:
                prepare_decision(actor=manager, proposal=proposal, kind=DecisionKind.SHORTLIST)
            release_decisions(actor=manager, challenge=challenge)
            return
    raise AssertionError("the demo has no challenge whose reviews are all in")


def _add_appeal() -> None:
    """SolarKiosk appeals a decline of its Kampala proposal, prepared and released by the second fund manager
    (rows written directly: the proposal's review round stays open for the reviewer's routes)."""
    solarkiosk = _user(LOGINS["innovator"])
    proposal = db.session.scalars(sa.select(Proposal).join(Challenge, Challenge.id == Proposal.challenge_id)
                                  .join(City, City.id == Challenge.city_id)
                                  .where(City.name == "Kampala", Challenge.status == ChallengeStatus.PUBLISHED,
                                         Proposal.organization_id == solarkiosk.organization_id,
                                         Proposal.status != ProposalStatus.DRAFT).order_by(Proposal.id)).first()
    assert proposal is not None, "the demo has no proposal of SolarKiosk's to Kampala"
    second = _user("fund.manager2@demo.facility")
    decision = Decision(challenge_id=proposal.challenge_id, proposal=proposal, kind=DecisionKind.DECLINE,
                        created_by_id=second.id, released_at=utcnow(), released_by_id=second.id)
    db.session.add(decision)
    db.session.flush()
    db.session.add(Appeal(decision_id=decision.id, proposal_id=proposal.id, organization_id=proposal.organization_id,
                          applicant_id=solarkiosk.id, grounds=AppealGrounds.FACTUAL_ERROR, statement="Matrix."))
    db.session.flush()


def _add_role_request_and_passkey() -> None:
    # A second administrator asked to make reviewer1 an auditor (pending: the demo admin may decide it, not
    # withdraw it), and the demo admin has a passkey besides the authenticator app.
    second = User(email="admin2@demo.facility", name="Second Admin", password_hash=_user(LOGINS["admin"]).password_hash)
    second.add_role(Role.ADMIN)
    db.session.add(second)
    db.session.flush()
    db.session.add(RoleGrantRequest(person_id=_user(LOGINS["reviewer"]).id, roles=["auditor"],
                                    requested_by_id=second.id))
    # ... and to raise the second fund manager's approval limit (pending: the demo admin may decide it).
    db.session.add(ApprovalLimitRequest(person_id=_user("fund.manager2@demo.facility").id, limit_cents=90_000_000,
                                        reason="Covers the larger tranches.", requested_by_id=second.id))
    db.session.add(PasskeyCredential(user_id=_user(LOGINS["admin"]).id, credential_id="bWF0cml4LXBhc3NrZXk",
                                     public_key=b"not-a-key", name="Laptop"))
    # reviewer1's second affiliation (the demo declares one): the page and the API each remove their own.
    db.session.add(ReviewerAffiliation(reviewer_id=_user(LOGINS["reviewer"]).id, organization_name="Matrix Lab"))
    db.session.commit()


def _seed_world(app: Flask) -> None:
    """The demo and the additions above. On SQLite the first caller kind of a test process keeps a copy of
    the seeded database and the others start from it (seeding is most of a kind's setup time)."""
    files = app.config.get("TEST_SQLITE_FILES")
    snapshot = Path(f"{files[0]}.matrix-world") if files else None
    if snapshot is not None and snapshot.exists():
        _copy_sqlite(snapshot, files[0])
        # Files live outside the database: put back the attachment a previous kind may have deleted.
        for attachment in db.session.scalars(sa.select(Attachment)):
            attachment_path(attachment).write_bytes(PDF)
        return
    seed(echo=lambda _msg: None)
    _add_draft_with_attachment()
    _add_role_request_and_passkey()
    if snapshot is not None:
        _copy_sqlite(files[0], snapshot)


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy one SQLite database over another with SQLite's backup API (safe while the app has it open)."""
    db.session.remove()
    db.engine.dispose()
    origin, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        origin.close()
        copy.close()


def build(app: Flask, kind: str) -> tuple[Caller, dict[str, Any]]:
    """Seed the demo, sign `kind` in (pages and API) and answer the caller and the URL parameter values."""
    _seed_world(app)
    client = app.test_client()
    if kind == "anonymous":
        # Someone else's tokens are what an anonymous caller tries to revoke.
        owner = _user(LOGINS["innovator"])
        spare = (issue_api_token(user=owner)[0].id, issue_api_token(user=owner)[0].id)
        db.session.commit()
        caller = Caller(kind, client, csrf_token_from(client.get("/signin").get_data(as_text=True)),
                        spare_tokens=spare)
        return caller, parameters(app, caller)
    user = _user(LOGINS[kind])
    if kind == "unenrolled_fm":
        user.mfa_enrolled_at = None
        user.totp_secret_encrypted = None
        db.session.commit()
    response = sign_in(client, user, DEMO_PASSWORD)
    assert response.status_code == 302, f"{kind} cannot sign in: {response.status_code}"
    # A fund manager without a second factor sees only the enrolment page (and its forms' CSRF token).
    csrf = csrf_token_from(client.get("/account/two-step" if kind == "unenrolled_fm" else "/profile")
                           .get_data(as_text=True))
    _, plain = issue_api_token(user=user, name="matrix")
    spare = (issue_api_token(user=user, name="spare 1")[0].id, issue_api_token(user=user, name="spare 2")[0].id)
    db.session.commit()
    caller = Caller(kind, client, csrf, {"Authorization": f"Bearer {plain}"}, user, spare)
    values = parameters(app, caller)
    if kind == "deactivated":
        user.active = False
        db.session.commit()
    return caller, values


def parameters(app: Flask, caller: Caller) -> dict[str, Any]:
    """URL parameter name -> value (and `endpoint:name` -> value where one endpoint needs another object)."""
    solarkiosk = _first(sa.select(Organization.id).where(Organization.name == "SolarKiosk Labs"))
    kampala = _first(sa.select(City.id).where(City.name == "Kampala"))
    challenge = _first(sa.select(Challenge.id).where(Challenge.city_id == kampala,
                                                     Challenge.status == ChallengeStatus.PUBLISHED))
    draft = _first(sa.select(Challenge.id).where(Challenge.city_id == kampala,
                                                 Challenge.status == ChallengeStatus.DRAFT))
    proposal = _first(sa.select(Proposal.id).where(Proposal.challenge_id == challenge,
                                                   Proposal.organization_id == solarkiosk,
                                                   Proposal.status != ProposalStatus.DRAFT))
    draft_proposal = _first(sa.select(Attachment.proposal_id).order_by(Attachment.id))
    grant = _first(sa.select(Grant.id).join(Proposal, Proposal.id == Grant.proposal_id)
                   .where(Proposal.organization_id == solarkiosk).order_by(Grant.id))
    tranche = _first(sa.select(Tranche.id).where(Tranche.grant_id == grant).order_by(Tranche.id))
    report = _first(sa.select(MilestoneReport.id).where(MilestoneReport.tranche_id == tranche))
    requested = _first(sa.select(Disbursement.id).join(Tranche, Tranche.id == Disbursement.tranche_id)
                       .where(Tranche.grant_id == grant, Disbursement.status == DisbursementStatus.REQUESTED))
    reviewer1 = _first(sa.select(User.id).where(User.email == LOGINS["reviewer"]))
    results_html = caller.client.get("/results").get_data(as_text=True)
    chart = re.search(r"/results/([\w-]+)\.csv", results_html)
    return {
        "user_id": _first(sa.select(User.id).where(User.organization_id == solarkiosk)),
        "org_id": solarkiosk,
        "token_id": caller.spare_tokens[0],
        "api_accounts.revoke_token:token_id": caller.spare_tokens[1],
        "city_id": kampala,
        "challenge_id": challenge,
        "challenges.edit:challenge_id": draft,
        "challenges.submit:challenge_id": draft,
        "api_challenges.update_challenge:challenge_id": draft,
        "api_challenges.submit_challenge:challenge_id": draft,
        "clarification_id": _first(sa.select(Clarification.id).where(Clarification.challenge_id == challenge)),
        "proposal_id": proposal,
        "attachment_id": _first(sa.select(Attachment.id).where(Attachment.proposal_id == draft_proposal)
                                .order_by(Attachment.id)),
        "api_proposals.delete_attachment:attachment_id": _first(
            sa.select(Attachment.id).where(Attachment.proposal_id == draft_proposal).order_by(Attachment.id.desc())),
        **{f"{endpoint}:proposal_id": draft_proposal for endpoint in DRAFT_ENDPOINTS},
        "round_id": _first(sa.select(ReviewRound.id).where(ReviewRound.challenge_id == challenge)
                           .order_by(ReviewRound.id.desc())),
        "assignment_id": _first(sa.select(Assignment.id).where(Assignment.proposal_id == proposal)
                                .order_by(Assignment.id)),
        "review.feedback:proposal_id": _first(sa.select(Decision.proposal_id).join(Proposal)
                                              .order_by(Proposal.organization_id != solarkiosk, Decision.id)),
        "affiliation_id": _first(sa.select(ReviewerAffiliation.id).where(ReviewerAffiliation.reviewer_id == reviewer1)
                                 .order_by(ReviewerAffiliation.id)),
        "api_affiliations.remove_affiliation:affiliation_id": _first(
            sa.select(ReviewerAffiliation.id).where(ReviewerAffiliation.reviewer_id == reviewer1)
            .order_by(ReviewerAffiliation.id.desc())),
        "review_affiliations.member:user_id": reviewer1,
        "appeal_id": _first(sa.select(Appeal.id).where(Appeal.organization_id == solarkiosk).order_by(Appeal.id)),
        "grant_id": grant,
        "tranche_id": tranche,
        "report_id": report,
        "file_id": _first(sa.select(EvidenceFile.id).order_by(EvidenceFile.id)),
        "disbursement_id": requested,
        "amendment_id": _first(sa.select(GrantAmendment.id).where(GrantAmendment.status == AmendmentStatus.PENDING)
                               .order_by(GrantAmendment.id)),
        "contribution_id": _first(sa.select(Contribution.id).where(Contribution.status == ContributionStatus.RECEIVED)
                                  .order_by(Contribution.id)),
        "grants.confirm_wire:contribution_id": _first(
            sa.select(Contribution.id).where(Contribution.status == ContributionStatus.PLEDGED)),
        "api_contributions.confirm_contribution:contribution_id": _first(
            sa.select(Contribution.id).where(Contribution.status == ContributionStatus.PLEDGED)),
        "event_id": _first(sa.select(AuditEvent.id).order_by(AuditEvent.id)),
        "request_id": _first(sa.select(RoleGrantRequest.id).order_by(RoleGrantRequest.id)),
        "limit_request_id": _first(sa.select(ApprovalLimitRequest.id).where(
            ApprovalLimitRequest.status == RoleRequestStatus.PENDING).order_by(ApprovalLimitRequest.id)),
        "passkey_id": _first(sa.select(PasskeyCredential.id).order_by(PasskeyCredential.id)),
        "table": next(iter(TABLES)),
        "fmt": "csv",
        "key": chart.group(1) if chart else "missing",
        "filename": "css/site.css",
        "token": "not-a-real-token",
    }


def audit_rows() -> int:
    """How many audit events there are (a refused write must add none)."""
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
