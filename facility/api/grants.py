"""API: contributions, facility totals, awards, grants, payout accounts, milestone evidence."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import ApiError, public, require_role, require_user
from facility.api.schemas import PageArgs, cents_field, page_of, paginate
from facility.challenges.models import Challenge
from facility.extensions import db
from facility.grants import services
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    Grant,
    MilestoneReport,
    PayoutRail,
    Tranche,
)
from facility.proposals.models import Proposal

blp = api_blueprint("api_grants", __name__, "Contributions, facility totals, awards, grants and milestones")

_NOT_FOUND = "Not found, or not yours to see."


def _enum(value):
    return value.value if value is not None else None


# --- schemas -------------------------------------------------------------------

class ContributionInSchema(ma.Schema):
    amount_cents = cents_field(required=True)
    method = ma.fields.String(required=True, validate=ma.validate.OneOf([m.value for m in ContributionMethod]))


class WireInstructionsSchema(ma.Schema):
    bank = ma.fields.String()
    account_name = ma.fields.String()
    iban = ma.fields.String()
    swift = ma.fields.String()
    reference = ma.fields.String()
    amount = ma.fields.String()


class ContributionSchema(ma.Schema):
    id = ma.fields.Integer()
    reference = ma.fields.String()
    amount_cents = ma.fields.Integer()
    method = ma.fields.Function(lambda c: _enum(c.method))
    status = ma.fields.Function(lambda c: _enum(c.status))
    donor_organization_id = ma.fields.Integer(allow_none=True)
    received_cents = ma.fields.Integer(allow_none=True)
    received_on = ma.fields.Date(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    wire_instructions = ma.fields.Method("_wire")
    checkout_url = ma.fields.Method("_checkout")

    def _wire(self, contribution):
        if contribution.method != ContributionMethod.WIRE or contribution.status != ContributionStatus.PLEDGED:
            return None
        return WireInstructionsSchema().dump(services.wire_instructions(contribution))

    def _checkout(self, contribution):
        if contribution.status != ContributionStatus.CHECKOUT_OPEN:
            return None
        return services.checkout_url(contribution)


class ConfirmWireSchema(ma.Schema):
    amount_cents = cents_field(required=True, metadata={"description": "received, in US cents"})
    received_on = ma.fields.Date(required=True)
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class FacilitySchema(ma.Schema):
    target = ma.fields.Integer(metadata={"description": "cents"})
    raised = ma.fields.Integer()
    unallocated = ma.fields.Integer()
    allocated = ma.fields.Integer()
    committed = ma.fields.Integer()
    disbursed = ma.fields.Integer()
    held = ma.fields.Integer()
    countries = ma.fields.Integer(metadata={"description": "national governments engaged"})
    cities = ma.fields.Integer(metadata={"description": "city governments engaged"})
    technology_companies = ma.fields.Integer(metadata={"description": "organisations with proposals in competition"})


class TrancheInSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    amount_cents = cents_field(required=True)
    due_date = ma.fields.Date(allow_none=True, load_default=None)
    deliverable = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))


class AwardSchema(ma.Schema):
    amount_cents = cents_field(required=True)
    tranches = ma.fields.List(ma.fields.Nested(TrancheInSchema), load_default=None,
                              validate=ma.validate.Length(min=1, max=50),
                              metadata={"description": "required when amount_cents differs from the request"})


class ReportSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda r: _enum(r.status))
    text = ma.fields.String()
    kpi_values = ma.fields.Dict()
    reviewer_comment = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    reviewed_at = ma.fields.AwareDateTime(allow_none=True)
    files = ma.fields.Function(lambda r: [{"id": f.id, "filename": f.original_filename, "content_type": f.content_type,
                                           "size_bytes": f.size_bytes, "sha256": f.sha256} for f in r.files])


class TrancheSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    title = ma.fields.String()
    deliverable = ma.fields.String()
    due_date = ma.fields.Date(allow_none=True)
    amount_cents = ma.fields.Integer()
    status = ma.fields.Function(lambda t: _enum(t.status))
    reports = ma.fields.List(ma.fields.Nested(ReportSchema))


class PayoutAccountSchema(ma.Schema):
    id = ma.fields.Integer()
    rail = ma.fields.Function(lambda a: _enum(a.rail))
    account_holder = ma.fields.String(allow_none=True)
    bank_name = ma.fields.String(allow_none=True)
    masked_account = ma.fields.String(allow_none=True, metadata={"description": "only the last 4 characters"})
    swift_masked = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class GrantSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda g: _enum(g.status))
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    awarded_at = ma.fields.AwareDateTime()
    accepted_at = ma.fields.AwareDateTime(allow_none=True)


class GrantSchema(GrantSummarySchema):
    agreement_text = ma.fields.String()
    tranches = ma.fields.List(ma.fields.Nested(TrancheSchema))
    payout_account = ma.fields.Nested(PayoutAccountSchema, allow_none=True)
    disbursements = ma.fields.List(ma.fields.Dict(), dump_only=True,
                                   metadata={"description": "added by the disbursements package"})

    @ma.post_dump(pass_original=True)
    def _extras(self, data, grant, **kwargs):
        # Packages that depend on grants (disbursements) add their keys here.
        data.update(services.grant_extras(grant))
        return data


class PayoutAccountInSchema(ma.Schema):
    rail = ma.fields.String(required=True, validate=ma.validate.OneOf([r.value for r in PayoutRail]))
    stripe_account_id = ma.fields.String(validate=ma.validate.Length(max=80))
    account_holder = ma.fields.String(validate=ma.validate.Length(max=200))
    bank_name = ma.fields.String(validate=ma.validate.Length(max=200))
    account_number = ma.fields.String(validate=ma.validate.Length(max=60))
    iban = ma.fields.String(validate=ma.validate.Length(max=60))
    swift = ma.fields.String(validate=ma.validate.Length(max=20))
    confirm_password = ma.fields.String(load_only=True, validate=ma.validate.Length(max=1024),
                                        metadata={"description": "the caller's password; needed to change an account"})


class EvidenceInSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=services.MAX_REPORT_CHARS))
    kpi_values = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
                                values=ma.fields.Float(allow_nan=False), load_default=dict)


class ReturnReportSchema(ma.Schema):
    comment = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5000))


class PoolReleaseSchema(ma.Schema):
    transaction_id = ma.fields.Integer()
    key = ma.fields.String()
    amount_cents = ma.fields.Integer()


# --- loading with permission checks ---------------------------------------------

def _contribution(contribution_id: int, user) -> Contribution:
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None or not contribution.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return contribution


def _grant(grant_id: int, user) -> Grant:
    grant = db.session.get(Grant, grant_id)
    if grant is None or not grant.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return grant


# --- contributions ---------------------------------------------------------------

@blp.route("/contributions", methods=["POST"])
@requires(Role.DONOR)
@blp.arguments(ContributionInSchema)
@blp.response(201, ContributionSchema)
def create_contribution(data):
    """Pledge a contribution: a wire (answered with payment instructions) or a card (with `checkout_url`)."""
    user = require_role(Role.DONOR)
    contribution = services.pledge_contribution(actor=user, amount_cents=data["amount_cents"], method=data["method"])
    db.session.commit()
    return contribution


@blp.route("/contributions", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ContributionSchema))
def list_contributions(args):
    """The caller's contributions (and their organisation's), newest first."""
    user = require_user()
    condition = Contribution.pledged_by_id == user.id
    if user.organization_id is not None:
        condition = sa.or_(condition, Contribution.donor_organization_id == user.organization_id)
    query = sa.select(Contribution).where(condition).order_by(Contribution.id.desc())
    return paginate(query, page=args["page"], per_page=args["per_page"])


@blp.route("/contributions/pending-wires", methods=["GET"])
@requires(Role.FUND_MANAGER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ContributionSchema))
def pending_wires(args):
    """Wire pledges waiting for a fund manager to confirm receipt, oldest first."""
    require_role(Role.FUND_MANAGER)
    query = sa.select(Contribution).where(Contribution.method == ContributionMethod.WIRE,
                                          Contribution.status == ContributionStatus.PLEDGED).order_by(Contribution.id)
    return paginate(query, page=args["page"], per_page=args["per_page"])


@blp.route("/contributions/<int:contribution_id>", methods=["GET"])
@blp.response(200, ContributionSchema)
def get_contribution(contribution_id):
    """One contribution: its pledging donor and fund managers."""
    return _contribution(contribution_id, require_user())


@blp.route("/contributions/<int:contribution_id>/confirm", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(ConfirmWireSchema)
@blp.response(200, ContributionSchema)
def confirm_contribution(data, contribution_id):
    """A fund manager confirms a wire received: books it in the ledger (409 if already confirmed)."""
    user = require_role(Role.FUND_MANAGER)
    contribution = _contribution(contribution_id, user)
    services.confirm_wire_contribution(contribution=contribution, actor=user, received_cents=data["amount_cents"],
                                       received_on=data["received_on"], bank_reference=data["bank_reference"])
    db.session.commit()
    return contribution


# --- facility ----------------------------------------------------------------------

@blp.route("/facility", methods=["GET"])
@public
@blp.response(200, FacilitySchema)
def facility():
    """The facility's totals in cents (target USD 1 billion) and the results-framework counts."""
    return services.facility_figures()


# --- awards and grants ---------------------------------------------------------------

@blp.route("/proposals/<int:proposal_id>/award", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(AwardSchema)
@blp.response(201, GrantSchema)
def award(data, proposal_id):
    """Award a proposal: a grant with tranches from the milestones, or from `tranches` (409 if the pool is short)."""
    user = require_role(Role.FUND_MANAGER)
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or not proposal.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    grant = services.award_proposal(proposal=proposal, actor=user, amount_cents=data["amount_cents"],
                                    tranches=data.get("tranches"))
    db.session.commit()
    return grant


@blp.route("/grants", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(GrantSummarySchema))
def list_grants(args):
    """The caller's organisation's grants; every grant for fund managers and admins."""
    user = require_user()
    query = sa.select(Grant).order_by(Grant.id.desc())
    if not user.has_role(Role.FUND_MANAGER, Role.ADMIN):
        query = query.where(Grant.organization_id == (user.organization_id or -1))
    return paginate(query, page=args["page"], per_page=args["per_page"])


@blp.route("/grants/<int:grant_id>", methods=["GET"])
@blp.response(200, GrantSchema)
def get_grant(grant_id):
    """A grant with its tranches, reports, masked payout account and disbursements (grantee, fund managers)."""
    user = require_user()
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id).options(
            selectinload(Grant.tranches).selectinload(Tranche.reports).selectinload(MilestoneReport.files),
            selectinload(Grant.payout_accounts))
    ).scalar_one_or_none()
    if grant is None or not grant.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return grant


@blp.route("/grants/<int:grant_id>/accept", methods=["POST"])
@requires(Role.INNOVATOR, hidden=_grant)
@blp.response(200, GrantSchema)
def accept(grant_id):
    """The grantee accepts the grant agreement (offered -> active)."""
    user = require_user()
    grant = _grant(grant_id, user)
    if not grant.acts_for_grantee(user):
        raise ApiError(403, "Only the grantee organisation's innovators accept a grant.")
    services.accept_grant(grant=grant, actor=user)
    db.session.commit()
    return grant


@blp.route("/grants/<int:grant_id>/payout-account", methods=["GET"])
@blp.response(200, PayoutAccountSchema)
def get_payout_account(grant_id):
    """The payout account in force, masked (404 when none is given)."""
    grant = _grant(grant_id, require_user())
    if grant.payout_account is None:
        raise ApiError(404, "No payout account has been given for this grant.")
    return grant.payout_account


@blp.route("/grants/<int:grant_id>/payout-account", methods=["PUT"])
@requires(Role.INNOVATOR, hidden=_grant)
@blp.arguments(PayoutAccountInSchema)
@blp.response(200, PayoutAccountSchema)
def put_payout_account(data, grant_id):
    """Give or change where the grant is paid; a change needs `confirm_password`. Answers with masked values."""
    user = require_user()
    grant = _grant(grant_id, user)
    if not grant.acts_for_grantee(user):
        raise ApiError(403, "Only the grantee organisation's innovators give payout details.")
    account = services.set_payout_account(grant=grant, actor=user, **data)
    db.session.commit()
    return account


@blp.route("/challenges/<int:challenge_id>/release-pool", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, PoolReleaseSchema)
def release_pool(challenge_id):
    """Return what is left in a finished challenge's prize pool to unallocated funds."""
    user = require_role(Role.FUND_MANAGER)
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not challenge.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    transaction = services.release_unused_pool(challenge=challenge, actor=user)
    db.session.commit()
    amount = max(entry.amount_cents for entry in transaction.entries)
    return {"transaction_id": transaction.id, "key": transaction.key, "amount_cents": amount}


def _tranche(tranche_id: int, user) -> Tranche:
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return tranche


# --- milestone evidence ---------------------------------------------------------------

@blp.route("/tranches/<int:tranche_id>/evidence", methods=["POST"])
@requires(Role.INNOVATOR, hidden=_tranche)
@blp.arguments(EvidenceInSchema)
@blp.response(201, ReportSchema)
def submit_evidence(data, tranche_id):
    """The grantee reports a milestone (files are uploaded on the page); the tranche awaits review."""
    user = require_user()
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    if not tranche.grant.acts_for_grantee(user):
        raise ApiError(403, "Only the grantee organisation's innovators report milestones.")
    report = services.submit_milestone_report(tranche=tranche, actor=user, text=data["text"],
                                              kpi_values=data.get("kpi_values"))
    db.session.commit()
    return report


def _report(report_id: int, user) -> MilestoneReport:
    report = db.session.get(MilestoneReport, report_id)
    if report is None or not report.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return report


@blp.route("/milestone-reports/<int:report_id>/accept", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, ReportSchema)
def accept_report(report_id):
    """A fund manager accepts a milestone report; the tranche may then be disbursed."""
    user = require_role(Role.FUND_MANAGER)
    report = _report(report_id, user)
    services.accept_milestone_report(report=report, actor=user)
    db.session.commit()
    return report


@blp.route("/milestone-reports/<int:report_id>/return", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(ReturnReportSchema)
@blp.response(200, ReportSchema)
def return_report(data, report_id):
    """A fund manager sends a report back with a comment; the milestone is pending again."""
    user = require_role(Role.FUND_MANAGER)
    report = _report(report_id, user)
    services.return_milestone_report(report=report, actor=user, comment=data["comment"])
    db.session.commit()
    return report
